package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// newFlagSet returns a flag set for a subcommand that reports to stderr
// and does not exit on error, so that run stays testable.
func newFlagSet(name, synopsis, description string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sluice "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sluice %s %s\n\n%s\n\nFlags:\n", name, synopsis, description)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs and turns the flag package's outcome
// into errHelp or errUsage; fs has already printed the explanation.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		return errHelp
	default:
		return errUsage
	}
}

// usageError prints msg and the usage of fs, and returns errUsage.
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), format+"\n", args...)
	fs.Usage()
	return errUsage
}

// byteSize is a flag.Value for a size in bytes, written as a plain number
// or with a binary suffix: 65536, 64K, 64KiB, 16M, 16MiB, 1G, 1GiB.
type byteSize int64

var sizeUnits = []struct {
	suffixes []string
	mult     int64
}{
	{[]string{"GiB", "G"}, 1 << 30},
	{[]string{"MiB", "M"}, 1 << 20},
	{[]string{"KiB", "K"}, 1 << 10},
	{[]string{"B", ""}, 1},
}

func (s *byteSize) Set(v string) error {
	v = strings.TrimSpace(v)
	for _, u := range sizeUnits {
		for _, suf := range u.suffixes {
			num, ok := strings.CutSuffix(v, suf)
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil || n < 0 || n > (1<<62)/u.mult {
				return fmt.Errorf("invalid size %q: want a number of bytes, optionally with K, M or G (KiB, MiB, GiB)", v)
			}
			*s = byteSize(n * u.mult)
			return nil
		}
	}
	return fmt.Errorf("invalid size %q", v) // unreachable: "" matches every string
}

func (s byteSize) String() string {
	for _, u := range sizeUnits {
		if u.mult > 1 && s != 0 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.suffixes[0]
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func (l *stringList) String() string { return strings.Join(*l, ", ") }

// headerList is the repeatable -H 'Name: value' flag of dial.
type headerList struct{ h http.Header }

func (l *headerList) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return fmt.Errorf("invalid header %q: want 'Name: value'", v)
	}
	if l.h == nil {
		l.h = make(http.Header)
	}
	l.h.Add(name, strings.TrimSpace(value))
	return nil
}

func (l *headerList) String() string {
	var b strings.Builder
	if l != nil && l.h != nil {
		_ = l.h.Write(&b)
	}
	return strings.TrimSpace(b.String())
}
