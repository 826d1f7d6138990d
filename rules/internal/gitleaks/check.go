package gitleaks

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"regexp/syntax"

	"github.com/spf13/viper"
	glconfig "github.com/zricethezav/gitleaks/v8/config"
)

// checkGitleaksConfig finds what in a gitleaks config would make gitleaks
// panic while loading it (it compiles every rule's and allowlist's
// regexps with MustCompile) and says it in one line: the rule, the field
// and the problem. A config that viper cannot read is left to
// loadGitleaks, which reports it. An [extend] path is checked the same
// way, to gitleaks' depth of two.
func checkGitleaksConfig(toml []byte) error {
	return checkGitleaksLevel(toml, "", 0)
}

func checkGitleaksLevel(toml []byte, name string, depth int) error {
	v := viper.New()
	v.SetConfigType("toml")
	if v.ReadConfig(bytes.NewReader(toml)) != nil {
		return nil
	}
	var vc glconfig.ViperConfig
	if v.Unmarshal(&vc) != nil {
		return nil
	}
	in := func(err error) error {
		if name == "" {
			return err
		}
		return fmt.Errorf("[extend] path %s: %w", name, err)
	}
	for i, r := range vc.Rules {
		rule := fmt.Sprintf("rule %q", r.ID)
		if r.ID == "" {
			rule = fmt.Sprintf("rule %d (no id)", i+1)
		}
		if err := compiles(r.Regex); err != nil {
			return in(fmt.Errorf("%s: regex %w", rule, err))
		}
		if err := compiles(r.Path); err != nil {
			return in(fmt.Errorf("%s: path %w", rule, err))
		}
		if r.SecretGroup < 0 {
			return in(fmt.Errorf("%s: secretGroup %d is negative", rule, r.SecretGroup))
		}
		if r.AllowList != nil {
			if err := allowlistCompiles(r.AllowList.Regexes, r.AllowList.Paths); err != nil {
				return in(fmt.Errorf("%s: [rules.allowlist] %w", rule, err))
			}
		}
		for j, a := range r.Allowlists {
			if a == nil {
				continue
			}
			if err := allowlistCompiles(a.Regexes, a.Paths); err != nil {
				return in(fmt.Errorf("%s: allowlist %d: %w", rule, j+1, err))
			}
		}
	}
	//lint:ignore SA1019 gitleaks still loads the deprecated [allowlist] table, so it is checked too
	if old := vc.AllowList; old != nil {
		if err := allowlistCompiles(old.Regexes, old.Paths); err != nil {
			return in(fmt.Errorf("[allowlist] %w", err))
		}
	}
	for j, a := range vc.Allowlists {
		if a == nil {
			continue
		}
		if err := allowlistCompiles(a.Regexes, a.Paths); err != nil {
			return in(fmt.Errorf("[[allowlists]] %d: %w", j+1, err))
		}
	}
	if p := vc.Extend.Path; p != "" && !vc.Extend.UseDefault && depth < 2 {
		b, err := os.ReadFile(p)
		if err != nil {
			return in(fmt.Errorf("[extend] path %s: %w", p, err))
		}
		return in(checkGitleaksLevel(b, p, depth+1))
	}
	return nil
}

func allowlistCompiles(regexes, paths []string) error {
	for i, re := range regexes {
		if err := compiles(re); err != nil {
			return fmt.Errorf("regexes[%d] %w", i, err)
		}
	}
	for i, p := range paths {
		if err := compiles(p); err != nil {
			return fmt.Errorf("paths[%d] %w", i, err)
		}
	}
	return nil
}

// compiles reports a regexp that does not compile, as "`EXPR` does not
// compile: REASON".
func compiles(expr string) error {
	if expr == "" {
		return nil
	}
	_, err := regexp.Compile(expr)
	if err == nil {
		return nil
	}
	var se *syntax.Error
	if errors.As(err, &se) {
		return fmt.Errorf("%q does not compile: %s", expr, se.Code)
	}
	return fmt.Errorf("%q does not compile: %v", expr, err)
}
