package rules

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// RuleDockerConfigAuth is the rule of registry credentials in a Docker
// client config.
const RuleDockerConfigAuth = "docker-config-auth"

var dockerConfigAuth = Rule{
	ID:          RuleDockerConfigAuth,
	Title:       "Registry credentials in a Docker config.json",
	Description: "A Docker client config (config.json auths) in the image holds a registry user's password or token: whoever pulls the image can push as that user.",
	Remediation: "Do not copy ~/.docker/config.json into images; log in at run time or use a credential helper; revoke the token.",
	Severity:    SeverityHigh,
	Kind:        KindToken,
	Specificity: SpecificityParsed,
}

// jsonFiles reads JSON, Docker's config.json among it.
type jsonFiles struct{}

func (jsonFiles) Info() Info {
	auth := base64.StdEncoding.EncodeToString([]byte("ci-bot:docker-hub-pw-1"))
	return Info{Name: "json", Version: 2, Format: true, Rules: []Rule{
		configSecret.with(
			file("/app/config/appsettings.json", "{\n \"ConnectionStrings\": {\"Default\": \"Server=db\"},\n \"Jwt\": {\"Secret\": \"json-jwt-secret-1\", \"Issuer\": \"me\"},\n \"Password\": \"\"\n}",
				at(3, "Jwt.Secret", "json-jwt-secret-1")),
			file("/app/config/service.json", `{"api": {"token": "k9-json-token-7Q", "password": "hunter2"}}`,
				at(1, "api.token", "k9-json-token-7Q"), at(1, "api.password", "hunter2")),
			file("/app/package.json", `{"name": "x", "scripts": {"token": "node gen-token.js"}, "dependencies": {"jsonwebtoken": "^9.0.0"}}`),
			file("/app/node_modules/.package-lock.json", `{"packages": {"node_modules/twilio": {"dependencies": {"jsonwebtoken": "^9.0.3"}}}}`),
			// An SDK's paginator definitions name request fields: a token-named
			// key whose value is a field name holds no token, wherever the file is.
			file("/usr/lib/python3/dist-packages/botocore/data/xray/2016-04-12/paginators-1.json", "{\n  \"pagination\": {\n    \"GetGroups\": {\n      \"input_token\": \"NextToken\",\n      \"output_token\": \"NextToken\",\n      \"result_key\": \"Groups\"\n    }\n  }\n}\n"),
			file("/app/node_modules/aws-sdk/apis/cloudfront-2020-05-31.paginators.json", `{"pagination": {"ListDistributions": {"input_token": "Marker", "output_token": "DistributionList.NextMarker"}, "X": {"input_token": "nextPageToken"}}}`),
			file("/srv/app/paging.json", `{"list": {"next_token": "nextToken", "page_token": "StreamDescription.Shards[-1].ShardId"}}`),
			// Its API reference's examples are examples, UUIDs and all.
			file("/usr/lib/python3/dist-packages/botocore/data/waf/2015-08-24/examples-1.json", `{"examples": {"CreateRule": [{"output": {"ChangeToken": "abcd12f2-46da-4fdb-b8d5-fbd4c466928f"}}]}}`),
			file("/app/node_modules/aws-sdk/apis/dms-2016-01-01.examples.json", `{"examples": {"CreateEndpoint": [{"input": {"Password": "pasword"}}]}}`),
			// gcloud's command definitions: a template field.
			file("/usr/lib/google-cloud-sdk/lib/surface/x/_partials/_create.json", `{"params": {"seedPhraseSecret": "{__relative_name__}"}}`),
		),
		dockerConfigAuth.with(
			file("/root/.docker/config.json", "{\n  \"auths\": {\n    \"registry.example.com\": {\n      \"auth\": \""+auth+"\"\n    }\n  }\n}\n",
				at(4, "auths.registry.example.com.auth", auth)),
			file("/root/.docker/config.json", `{"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"}`),
			// No password in the entry; gitleaks' generic rule still takes
			// the base64 for a random string.
			file("/root/.docker/config.json", `{"auths": {"r.example.com": {"auth": "`+base64.StdEncoding.EncodeToString([]byte("user-without-password"))+`"}}}`,
				at(1, "", base64.StdEncoding.EncodeToString([]byte("user-without-password"))).of("gitleaks.generic-api-key")),
		),
	}}
}

func (jsonFiles) Applies(path []string) bool { return hasSuffixFold(fileName(path), ".json") }

func (jsonFiles) Detect(f *File, c *Collector) { scanJSON(f.Name(), f.Data, c) }

// jsonManifests are package manifests and lock files: their keys name
// packages (jsonwebtoken, passport-token), not settings. npm 7 and later
// write a copy of the lock file into node_modules, .package-lock.json.
var jsonManifests = map[string]bool{"package.json": true, "package-lock.json": true, ".package-lock.json": true, "composer.json": true,
	"composer.lock": true, "bower.json": true, "npm-shrinkwrap.json": true, "deno.json": true, "tsconfig.json": true}

// scanJSON reads JSON: string values under secret-named keys, and Docker's
// config.json credentials (auths.REGISTRY.auth is base64 of user:password).
func scanJSON(name string, data []byte, c *Collector) {
	if jsonManifests[strings.ToLower(path.Base(name))] || bytes.IndexByte(data, '{') < 0 {
		return // a manifest, or no object: no key to judge
	}
	if len(data) > MaxParseSize {
		c.Incomplete(0, fmt.Sprintf("JSON of %d bytes is over the %d-byte limit of the JSON reader: its keys were not read", len(data), MaxParseSize))
		return
	}
	lines := textscan.NewLines(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		isObject bool
		nextKey  bool // in an object: the next string is a key
		lastKey  string
	}
	var stack []frame
	path := func(k string) string {
		parts := make([]string, 0, len(stack)+1)
		for _, f := range stack[:len(stack)-1] {
			if f.isObject {
				parts = append(parts, f.lastKey)
			}
		}
		parts = append(parts, k)
		return strings.Join(parts, ".")
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			line := lines.Line(int(dec.InputOffset()))
			c.Incomplete(line, fmt.Sprintf("malformed JSON at line %d: the rest of its keys were not read", line))
			return
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) == MaxNesting {
					line := lines.Line(int(dec.InputOffset()))
					c.Incomplete(line, fmt.Sprintf("JSON nested deeper than %d levels at line %d: the rest of its keys were not read", MaxNesting, line))
					return
				}
				stack = append(stack, frame{isObject: t == '{', nextKey: t == '{'})
				continue
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].isObject {
					stack[len(stack)-1].nextKey = true
				}
				continue
			}
		case string:
			if top != nil && top.isObject && top.nextKey {
				top.lastKey, top.nextKey = t, false
				continue
			}
			if top != nil && top.isObject {
				key := path(top.lastKey)
				line := lines.Line(int(dec.InputOffset()) - 1)
				if strings.HasPrefix(key, "auths.") && strings.HasSuffix(key, ".auth") {
					dockerAuth(key, t, line, c)
				} else if strings.HasPrefix(key, "auths.") && IsSecretKey(top.lastKey) {
					c.KeyValue(RuleDockerConfigAuth, key, t, line)
				} else {
					c.KeyValue(RuleConfigSecret, key, t, line)
				}
			}
		}
		if top != nil && top.isObject {
			top.nextKey = true
		}
	}
}

// dockerAuth decodes a config.json auth entry, base64 of user:password.
func dockerAuth(key, value string, line int, c *Collector) {
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		c.Dismiss(RuleDockerConfigAuth, line, key, "not base64")
		return
	}
	_, pw, ok := strings.Cut(string(raw), ":")
	if !ok || pw == "" {
		c.Dismiss(RuleDockerConfigAuth, line, key, "no password in the auth entry")
		return
	}
	// The finding's secret is the literal in the file (base64 of
	// user:password), as gitleaks and a reader of the file see it.
	c.Add(newFinding(RuleDockerConfigAuth, line, key, value))
}
