package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/daemonctl/daemonctl/internal/config"
)

// ServiceError is a service a command could not bring where it was asked to.
type ServiceError struct {
	Service string
	Err     error
	// LogFile and LogTail show the end of the service's log, when it
	// explains the failure.
	LogFile string
	LogTail []string
}

func (e *ServiceError) Error() string { return e.Service + ": " + e.Err.Error() }
func (e *ServiceError) Unwrap() error { return e.Err }

// Failures collects the services a multi-service command could not act on.
type Failures []*ServiceError

func (f Failures) Error() string {
	msgs := make([]string, len(f))
	for i, e := range f {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// ErrSkipped is wrapped by the error of a service that was not acted on
// because a service it waits for failed.
var ErrSkipped = errors.New("skipped")

// inOrder runs fn on every service of set, each only after fn succeeded on
// every service waitFor names (those outside set are not waited for).
// Services that do not wait on each other run in parallel. A service whose
// prerequisite failed is skipped. It returns the failures in set's order.
func inOrder(ctx context.Context, set []*config.Service, waitFor func(*config.Service) []string, fn func(context.Context, *config.Service) error) error {
	done := make(map[string]chan struct{}, len(set))
	for _, s := range set {
		done[s.Name] = make(chan struct{})
	}
	var (
		mu   sync.Mutex
		errs = map[string]error{}
		wg   sync.WaitGroup
	)
	for _, s := range set {
		wg.Go(func() {
			defer close(done[s.Name])
			for _, w := range waitFor(s) {
				ch, ok := done[w]
				if !ok {
					continue
				}
				<-ch
				mu.Lock()
				failed := errs[w] != nil
				mu.Unlock()
				if failed {
					mu.Lock()
					errs[s.Name] = fmt.Errorf("%w: %s did not succeed", ErrSkipped, w)
					mu.Unlock()
					return
				}
			}
			if err := fn(ctx, s); err != nil {
				mu.Lock()
				errs[s.Name] = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var failures Failures
	for _, s := range set {
		if err := errs[s.Name]; err != nil {
			var se *ServiceError
			if !errors.As(err, &se) {
				se = &ServiceError{Service: s.Name, Err: err}
			}
			failures = append(failures, se)
		}
	}
	if len(failures) == 0 {
		return nil
	}
	return failures
}

// dependencies is the waitFor of start: a service waits for what it depends on.
func dependencies(s *config.Service) []string { return s.DependsOn }

// dependents is the waitFor of stop: a service waits for what depends on it.
func (m *Manager) dependents(s *config.Service) []string { return m.cfg.Dependents(s.Name) }
