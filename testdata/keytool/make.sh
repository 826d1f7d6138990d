#!/usr/bin/env bash
# Regenerates the keystores in this directory with the JDK's keytool (JDK 17).
# They hold freshly generated, synthetic keys for tests only. Not run by
# `make fixtures`: the files are committed so that tests do not need a JDK.
set -euo pipefail
cd "$(dirname "$0")"
rm -f sts-keytool.jks jwt-keytool.p12
# JKS, as the book's keystores: alias spring, store and key password springboot.
keytool -genkeypair -alias spring -keyalg RSA -keysize 2048 -validity 3650 \
  -dname "CN=sts.peel.test, O=peel test fixture" \
  -storetype JKS -keystore sts-keytool.jks -storepass springboot -keypass springboot
# PKCS#12 with keytool's defaults (JDK 17: PBES2 with AES-256, HmacSHA256 MAC).
keytool -genkeypair -alias jwtkey -keyalg RSA -keysize 2048 -validity 3650 \
  -dname "CN=jwt.peel.test, O=peel test fixture" \
  -storetype PKCS12 -keystore jwt-keytool.p12 -storepass springboot
