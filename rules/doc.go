// Package rules decides whether bytes hold a secret. It knows file names and
// file contents, never images, layers or archives: the scanner hands it one
// file at a time (or one keystore and the passwords to try on it) and gets
// back findings with line numbers relative to that file.
package rules
