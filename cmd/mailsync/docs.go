package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// version is the module version and VCS commit the binary was built from
// (runtime/debug.ReadBuildInfo): "v1.2.3" for `go install …@v1.2.3`, and
// for a build in a clone "(devel)" with the commit, its date and
// "+dirty" when the tree had uncommitted changes.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (built without module support)"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, when, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" commit %s%s", rev, dirty)
		if when != "" {
			v += " (" + when + ")"
		}
	} else if bi.Main.Version == "(devel)" || bi.Main.Version == "" {
		v += " commit unknown (build from a git clone with the go command to record it)"
	}
	return v + ", " + bi.GoVersion
}

// manCommand prints the man page made from the command definitions; the
// repository's docs/mailsync.1 is its output (TestManPageIsCurrent).
func manCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the man page (roff) made from the command definitions",
		Hidden: true,
		Action: func(c *cli.Context) error {
			page, err := manPage(c.App)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(g.stdout, page)
			return err
		},
	}
}

func manPage(app *cli.App) (string, error) {
	// Hidden commands (man itself) stay out of the page.
	return app.ToManWithSection(1)
}

func completionCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "bash:  mailsync completion bash > ~/.local/share/bash-completion/completions/mailsync\n" +
			"zsh:   mailsync completion zsh > \"${fpath[1]}/_mailsync\"\n" +
			"fish:  mailsync completion fish > ~/.config/fish/completions/mailsync.fish",
		Action: func(c *cli.Context) error {
			var script string
			switch c.Args().First() {
			case "bash":
				script = bashCompletion
			case "zsh":
				script = zshCompletion
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				script = s
			default:
				return usagef("completion: say which shell: mailsync completion bash|zsh|fish")
			}
			_, err := fmt.Fprint(g.stdout, script)
			return err
		},
	}
}

// completeAccounts completes account names (from the config file) and,
// after a "-", the command's flags. migrate takes two accounts, FROM and
// TO: TO is completed with the others, and nothing after it.
func completeAccounts(g *globals, cmd func() *cli.Command) cli.BashCompleteFunc {
	return func(c *cli.Context) {
		if n := len(os.Args); n > 2 && strings.HasPrefix(os.Args[n-2], "-") {
			cli.DefaultCompleteWithFlags(cmd())(c)
			return
		}
		named := c.Args().Slice()
		if cmd().Name == "migrate" && len(named) >= 2 {
			return
		}
		cfg, err := g.loadConfig()
		if err != nil {
			return
		}
		for _, n := range cfg.Names() {
			if cmd().Name == "migrate" && slices.Contains(named, n) {
				continue
			}
			fmt.Fprintln(g.stdout, n)
		}
	}
}

// The bash and zsh scripts are urfave/cli's autocomplete/ scripts for
// the program "mailsync": they ask the program itself for the words.
const bashCompletion = `# bash completion for mailsync (mailsync completion bash)
_mailsync_complete() {
  local cur words
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  words=("${COMP_WORDS[@]:0:$COMP_CWORD}")
  local opts
  if [[ "$cur" == "-"* ]]; then
    opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -F _mailsync_complete mailsync
`

const zshCompletion = `#compdef mailsync
# zsh completion for mailsync (mailsync completion zsh)
_mailsync() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _mailsync mailsync
`
