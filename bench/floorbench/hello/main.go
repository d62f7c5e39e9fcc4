// Command hello is the floor of every daemonctl command: a static Go
// program that prints one line, the least a Go command-line tool costs
// to run here.
package main

import "fmt"

func main() { fmt.Println("hello, world") }
