package com.manning.mss.ch10.sample01;

import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.context.annotation.Configuration;

/**
 * The security token service of the book's chapter 10, reduced to its
 * wiring: the keystore settings come from application.properties (v1, in
 * the jar) or from the file SPRING_CONFIG_LOCATION names (v2).
 */
@Configuration
@ComponentScan("com.manning.mss.ch10.sample01.config")
public class TokenService {
    public static void main(String[] args) {
        try (AnnotationConfigApplicationContext ctx = new AnnotationConfigApplicationContext(TokenService.class)) {
            System.out.println("STS started with " + ctx.getBeanDefinitionCount() + " beans");
        }
    }
}
