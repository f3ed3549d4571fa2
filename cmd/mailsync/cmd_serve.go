package main

import "github.com/urfave/cli/v2"

func serveCommand(g *globals) *cli.Command {
	return &cli.Command{Name: "serve", Usage: "publish a Maildir over IMAP", Action: func(c *cli.Context) error { return usagef("serve: not yet wired") }}
}

func demoCommand(g *globals) *cli.Command {
	return &cli.Command{Name: "demo", Usage: "zero-setup demonstration", Action: func(c *cli.Context) error { return usagef("demo: not yet wired") }}
}
