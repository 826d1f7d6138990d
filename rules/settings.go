package rules

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// setting judges one configuration entry as c.KeyValue does, after reading
// the entries that hold settings of their own, as the JVM and Spring Boot
// read them:
//
//   - a JVM options variable (JAVA_OPTS, JAVA_TOOL_OPTIONS, CATALINA_OPTS,
//     JDK_JAVA_OPTIONS, JAVA_OPTS_APPEND, …: see isOptionsVariable), whose
//     -Dkey=value system properties and --name=value arguments are
//     settings: JAVA_OPTS=-Dspring.datasource.password=… is the setting
//     spring.datasource.password;
//   - Spring Boot's SPRING_APPLICATION_JSON (spring.application.json, in
//     any of its relaxed spellings), whose JSON Spring flattens to dotted
//     keys: {"spring":{"datasource":{"password":…}}} is
//     spring.datasource.password.
//
// Every format detector that reads environment-like entries (.env files,
// compose environment lists and mappings, the image config's Env and
// Labels, system properties on command lines) judges them here.
func setting(c *Collector, rule, key, value string, line int) {
	switch {
	case isOptionsVariable(key):
		scanArguments(value, rule, line, c)
	case isSpringJSON(key):
		springJSON(c, rule, key, value, line)
	default:
		c.KeyValue(rule, key, value, line)
	}
}

// isOptionsVariable reports a variable whose value is command-line options
// (its last segment, split at '_' or '-', has a word OPTS, OPTIONS or
// ARGS): JAVA_OPTS, JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS, _JAVA_OPTIONS,
// CATALINA_OPTS, JAVA_OPTS_APPEND, MAVEN_OPTS, JVM_ARGS, … Only secret-named
// properties and flags in such a value are findings, so a variable of
// options for another tool (NODE_OPTIONS) costs a look and reports
// nothing it should not.
func isOptionsVariable(key string) bool {
	seg := lastSegment(key)
	for len(seg) > 0 {
		i := strings.IndexAny(seg, "_-")
		word := seg
		if i >= 0 {
			word, seg = seg[:i], seg[i+1:]
		} else {
			seg = ""
		}
		if isName(word, "opts", "options", "args") {
			return true
		}
	}
	return false
}

// lastSegment is a key's last dotted (or ':' or '/') segment: JAVA_OPTS of
// services.app.environment.JAVA_OPTS.
func lastSegment(key string) string {
	if i := strings.LastIndexAny(key, ".:/"); i >= 0 {
		return key[i+1:]
	}
	return key
}

// isSpringJSON reports Spring Boot's spring.application.json, in any of the
// spellings its relaxed binding accepts (SPRING_APPLICATION_JSON,
// spring-application-json), as a whole key or as the end of a longer one
// (services.app.environment.SPRING_APPLICATION_JSON).
func isSpringJSON(key string) bool {
	const name = "spring.application.json"
	if len(key) < len(name) {
		return false
	}
	tail := key[len(key)-len(name):]
	for i := 0; i < len(name); i++ {
		c := tail[i]
		if c == '_' || c == '-' {
			c = '.'
		}
		if textscan.LowerASCII(c) != name[i] {
			return false
		}
	}
	if len(key) == len(name) {
		return true
	}
	b := key[len(key)-len(name)-1]
	return b == '.' || b == '_' || b == '-' || b == ':' || b == '/'
}

// springJSON reads SPRING_APPLICATION_JSON's JSON as Spring flattens it:
// nested objects join their keys with dots, array elements are key[i], and
// every string is a setting, judged at the entry's line under its
// flattened key. JSON that does not parse is reported as not read.
func springJSON(c *Collector, rule, key, value string, line int) {
	var v any
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		c.Incomplete(line, key+" is not JSON: its settings were not read")
		return
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys) // findings in a fixed order
			for _, k := range keys {
				name := k
				if prefix != "" {
					name = prefix + "." + k
				}
				walk(name, t[k])
			}
		case []any:
			for i, e := range t {
				walk(prefix+"["+strconv.Itoa(i)+"]", e)
			}
		case string:
			c.KeyValue(rule, prefix, t, line)
		}
	}
	walk("", v)
}
