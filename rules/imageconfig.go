package rules

// RuleImageConfigSecret is the rule of secrets in the image config.
const RuleImageConfigSecret = "image-config-secret"

var imageConfigSecret = Rule{
	ID:          RuleImageConfigSecret,
	Title:       "Secret in the image configuration (ENV or LABEL)",
	Description: "An ENV or LABEL instruction baked a secret into the image configuration, which docker inspect shows to anyone who pulls the image.",
	Remediation: "Do not set secrets with ENV or LABEL; pass them at run time (docker run -e, an env file, a mounted secret); then rotate.",
	Severity:    SeverityHigh,
	Kind:        KindPassword,
	Specificity: SpecificityKeyName,
}

// imageConfig judges the image config's entries (Env, Labels) as
// settings: KEY=VALUE. It reads no files.
type imageConfig struct{}

func (imageConfig) Info() Info {
	return Info{Name: "imageconfig", Version: 1, Rules: []Rule{
		imageConfigSecret.with(
			env("DB_PASSWORD=env-config-pw", at(0, "DB_PASSWORD", "env-config-pw")),
			env("SPRING_CONFIG_LOCATION=/opt/application.properties"),
			env("JAVA_HOME=/usr/lib/jvm"),
			env("DB_PASSWORD=${DB_PASSWORD}"),
		),
		configSecretDefault.with(
			env("DB_PASSWORD=${DB_PASSWORD:env-default-pw}", at(0, "DB_PASSWORD", "env-default-pw")),
			env("DB_PASSWORD=${DB_PASSWORD:}"),
		),
	}}
}

func (imageConfig) Applies([]string) bool { return false }

func (imageConfig) Detect(*File, *Collector) {}

func (imageConfig) DetectAssignment(key, value string, c *Collector) {
	c.KeyValue(RuleImageConfigSecret, key, value, 0)
}
