package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs lets every option be given before or after the command and
// after the account names, as in git, restic or rclone: urfave/cli stops
// reading flags at the first positional argument, so the arguments are
// rearranged before it sees them into
//
//	mailsync GLOBAL-FLAGS COMMAND COMMAND-FLAGS POSITIONALS...
//
// A global flag found after the command moves in front of it; a command
// flag found after a positional moves in front of the positionals.
// Everything after "--" stays where it is, as positionals. A flag that
// takes a value keeps its value ("--config FILE" moves as a pair). An
// unknown flag is kept in the command's flags so that urfave/cli reports
// it as a usage error. args[0] is the program name.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 || args[len(args)-1] == "--generate-bash-completion" {
		// Shell completion reads the words as typed.
		return args
	}
	global := flagTable(app.Flags)
	global["help"], global["h"] = false, false
	global["version"] = false

	var pre, cmdFlags, positionals []string
	var cmd *cli.Command
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positionals = append(positionals, rest[i:]...)
			break
		}
		if isFlag(a) {
			name, hasValue := flagName(a)
			var cmdTable map[string]bool
			if cmd != nil {
				cmdTable = flagTable(cmd.Flags)
			}
			takesValue, inCmd := cmdTable[name]
			dst := &cmdFlags
			if !inCmd {
				var inGlobal bool
				takesValue, inGlobal = global[name]
				if inGlobal || cmd == nil {
					dst = &pre
				}
			}
			*dst = append(*dst, a)
			if takesValue && !hasValue && i+1 < len(rest) {
				i++
				*dst = append(*dst, rest[i])
			}
			continue
		}
		if cmd == nil {
			cmd = app.Command(a)
			if cmd == nil {
				// Not a command: let urfave/cli say so.
				return args
			}
			if len(cmd.Subcommands) > 0 {
				return args
			}
			continue
		}
		positionals = append(positionals, a)
	}
	if cmd == nil {
		return args
	}
	out := append([]string{args[0]}, pre...)
	out = append(out, cmd.Name)
	out = append(out, cmdFlags...)
	return append(out, positionals...)
}

// flagTable maps every name and alias of flags to whether the flag takes
// a value (everything but a boolean).
func flagTable(flags []cli.Flag) map[string]bool {
	t := map[string]bool{}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			t[n] = !isBool
		}
	}
	return t
}

func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

// flagName returns the flag's name without dashes and whether the
// argument carries its value ("--name=value").
func flagName(a string) (string, bool) {
	a = strings.TrimLeft(a, "-")
	if i := strings.IndexByte(a, '='); i >= 0 {
		return a[:i], true
	}
	return a, false
}
