package rules

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// xmlFiles reads XML: Tomcat's server.xml and context.xml, Maven's
// settings.xml, Spring XML, web.xml, …
type xmlFiles struct{}

func (xmlFiles) Info() Info {
	return Info{Name: "xml", Version: 2, Format: true, Rules: []Rule{
		configSecret.with(
			file("/usr/local/tomcat/conf/server.xml", `<Server>
  <Connector port="8443" SSLEnabled="true"
             keystoreFile="/opt/keystore.jks"
             keystorePass="tomcat-ks-pw" truststorePass="${TRUST_PW}"/>
</Server>`, at(4, "Connector@keystorePass", "tomcat-ks-pw")),
			file("/usr/local/tomcat/conf/context.xml", `<Context>
  <Resource name="jdbc/app" auth="Container" username="app" password="ctx-db-pw-1"/>
</Context>`, at(2, "Resource@password", "ctx-db-pw-1")),
			file("/root/.m2/settings.xml", `<settings><servers>
  <server><id>nexus</id><username>deploy</username>
    <password>mvn-deploy-pw</password></server>
  <server><id>enc</id><password>{COQLCE6DU6GtcS5P=}</password></server>
  <server><id>ph</id><password>${env.NEXUS_PW}</password></server>
</servers></settings>`, at(3, "password", "mvn-deploy-pw")),
			file("/app/WEB-INF/applicationContext.xml", `<beans>
  <bean id="ds" class="org.apache.commons.dbcp2.BasicDataSource">
    <property name="password" value="spring-xml-pw"/>
    <property name="passwordEncoder" value="org.example.PasswordEncoder"/>
    <property name="url" value="jdbc:h2:mem:x"/>
  </bean>
</beans>`, at(3, "password", "spring-xml-pw")),
			file("/app/WEB-INF/web.xml", "<web-app><servlet><init-param>\n<param-name>clientSecret</param-name>\n<param-value>servlet-secret-1</param-value>\n</init-param></servlet></web-app>",
				at(3, "clientSecret", "servlet-secret-1")),
			file("/app/WEB-INF/web.xml", "<web-app><context-param><param-name>tokenTtl</param-name><param-value>3600</param-value></context-param></web-app>"),
			// maven-replacer-plugin's tokens in a library's pom (HdrHistogram's,
			// in every Spring Boot jar that bundles it).
			file("/app.jar!BOOT-INF/lib/HdrHistogram-2.1.11.jar!META-INF/maven/org.hdrhistogram/HdrHistogram/pom.xml", `<project><build><plugins><plugin>
  <artifactId>replacer</artifactId>
  <configuration><replacements>
    <replacement><token>\$BUILD_TIME\$</token><value>${build.time}</value></replacement>
    <replacement><token>$VERSION$</token><value>${project.version}</value></replacement>
  </replacements></configuration>
</plugin></plugins></build></project>`),
			file("/usr/share/maven/conf/settings.xml", "<settings><servers><server>\n<password>changeit</password>\n</server></servers></settings>",
				at(2, "password", "changeit")),
		),
	}}
}

func (xmlFiles) Applies(path []string) bool { return hasSuffixFold(fileName(path), ".xml") }

func (xmlFiles) Detect(f *File, c *Collector) { scanXML(f.Data, c) }

// xmlContainers are elements whose name or key attribute names the setting
// and whose value attribute (or text) holds it: Spring's <property>,
// <entry>, web.xml's <init-param> are covered by param-name/param-value.
var xmlContainers = map[string]bool{"property": true, "entry": true, "param": true, "constructor-arg": true, "env-entry": true, "add": true, "setting": true}

// scanXML reads XML: attributes named like secrets (Tomcat keystorePass,
// <Resource password=…>), elements named like secrets (Maven <password>),
// and name/value pairs (<property name="password" value="…"/>,
// <param-name>/<param-value>).
func scanXML(data []byte, c *Collector) {
	if bytes.IndexByte(data, '<') < 0 {
		return // no element, no attribute: nothing to judge
	}
	if len(data) > MaxParseSize {
		c.Incomplete(0, fmt.Sprintf("XML of %d bytes is over the %d-byte limit of the XML reader: its elements were not read", len(data), MaxParseSize))
		return
	}
	lines := textscan.NewLines(data)
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var (
		stack     []string
		paramName string
	)
	for {
		start := int(dec.InputOffset())
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			line := lines.Line(start)
			c.Incomplete(line, fmt.Sprintf("malformed XML at line %d: the rest of its elements were not read", line))
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == MaxNesting {
				line := lines.Line(start)
				c.Incomplete(line, fmt.Sprintf("XML nested deeper than %d levels at line %d: the rest of its elements were not read", MaxNesting, line))
				return
			}
			name := t.Name.Local
			stack = append(stack, name)
			end := int(dec.InputOffset())
			attrLine := func(attr string) int {
				if i := bytes.Index(data[start:min(end, len(data))], []byte(attr)); i >= 0 {
					return lines.Line(start + i)
				}
				return lines.Line(start)
			}
			var nameAttr, valueAttr string
			for _, a := range t.Attr {
				switch strings.ToLower(a.Name.Local) {
				case "name", "key":
					nameAttr = a.Value
				case "value":
					valueAttr = a.Value
				default:
					if IsSecretKey(a.Name.Local) {
						c.KeyValue(RuleConfigSecret, name+"@"+a.Name.Local, a.Value, attrLine(a.Name.Local+"="))
					}
				}
			}
			if xmlContainers[strings.ToLower(name)] && nameAttr != "" && valueAttr != "" {
				c.KeyValue(RuleConfigSecret, nameAttr, valueAttr, attrLine("value="))
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			text := strings.TrimSpace(string(t))
			if text == "" {
				continue
			}
			el := stack[len(stack)-1]
			line := lines.Line(start + bytes.Index(t, []byte(text[:1])))
			switch strings.ToLower(el) {
			case "param-name", "name", "key":
				paramName = text
			case "param-value", "value":
				if paramName != "" {
					c.KeyValue(RuleConfigSecret, paramName, text, line)
					paramName = ""
				}
			default:
				if IsSecretKey(el) {
					c.KeyValue(RuleConfigSecret, el, text, line)
				}
			}
		}
	}
}
