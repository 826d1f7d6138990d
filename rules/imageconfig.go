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
	return Info{Name: "imageconfig", Version: 2, Rules: []Rule{
		imageConfigSecret.with(
			env("DB_PASSWORD=env-config-pw", at(0, "DB_PASSWORD", "env-config-pw")),
			env("SPRING_CONFIG_LOCATION=/opt/application.properties"),
			env("JAVA_HOME=/usr/lib/jvm"),
			env("DB_PASSWORD=${DB_PASSWORD}"),
			// Spring's relaxed names; JVM options and SPRING_APPLICATION_JSON
			// hold settings of their own, at a config secret's severity
			// (gitleaks' generic rule, low, sees the same bytes).
			env("SPRING_DATASOURCE_PASSWORD=relaxed-cfg-pw", at(0, "SPRING_DATASOURCE_PASSWORD", "relaxed-cfg-pw")),
			env("JAVA_OPTS=-Xmx1g -Dspring.datasource.password=Q3v9X2kP7mL4tR8wZ6nB1cY5 -Dserver.port=8443",
				Want{Line: 0, Key: "spring.datasource.password", Secret: "Q3v9X2kP7mL4tR8wZ6nB1cY5", Severity: SeverityHigh}),
			env("JAVA_TOOL_OPTIONS=-XX:+UseContainerSupport -Djavax.net.ssl.keyStorePassword=tool-opts-pw", at(0, "javax.net.ssl.keyStorePassword", "tool-opts-pw")),
			env("CATALINA_OPTS=-Dserver.ssl.key-store-password=catalina-pw -Xms256m", at(0, "server.ssl.key-store-password", "catalina-pw")),
			env("JAVA_OPTS_APPEND=--spring.datasource.password=append-arg-pw", at(0, "spring.datasource.password", "append-arg-pw")),
			env(`SPRING_APPLICATION_JSON={"spring":{"datasource":{"url":"jdbc:postgresql://db/app","password":"app-json-pw"}}}`, at(0, "spring.datasource.password", "app-json-pw")),
			env("JAVA_OPTS=-Dspring.datasource.password=${DB_PASSWORD}"),
			env("JAVA_OPTS=-Dspring.datasource.password=$DB_PASSWORD -Xmx1g"),
			env("JAVA_TOOL_OPTIONS=-XX:+UseContainerSupport -Dfile.encoding=UTF-8 -Dkey.store=/opt/app.jks"),
			env(`SPRING_APPLICATION_JSON={"spring":{"datasource":{"password":"${DB_PASSWORD}"}}}`),
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
	setting(c, RuleImageConfigSecret, key, value, 0)
}
