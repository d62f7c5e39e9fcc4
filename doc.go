// Package daemonctl holds repository-wide tests; the program is in
// cmd/daemonctl and its logic in internal/.
package daemonctl
