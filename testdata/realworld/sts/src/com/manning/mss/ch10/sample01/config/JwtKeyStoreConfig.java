package com.manning.mss.ch10.sample01.config;

import java.io.FileInputStream;
import java.io.InputStream;
import java.security.KeyStore;
import java.security.PrivateKey;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.PropertySource;

/**
 * Opens the JWT-signing keystore named by the spring.security.oauth.jwt
 * properties, as the book's AuthorizationServerConfig does.
 */
@Configuration
@PropertySource("${spring.config.location:classpath:application.properties}")
public class JwtKeyStoreConfig {
    @Value("${spring.security.oauth.jwt.keystore.name}")
    private String keystoreName;

    @Value("${spring.security.oauth.jwt.keystore.password}")
    private String keystorePassword;

    @Value("${spring.security.oauth.jwt.keystore.alias}")
    private String keystoreAlias;

    @Bean
    public PrivateKey jwtSigningKey() throws Exception {
        KeyStore ks = KeyStore.getInstance("JKS");
        try (InputStream in = new FileInputStream(keystoreName)) {
            ks.load(in, keystorePassword.toCharArray());
        }
        return (PrivateKey) ks.getKey(keystoreAlias, keystorePassword.toCharArray());
    }
}
