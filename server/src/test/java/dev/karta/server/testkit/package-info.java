/**
 * Shared test fixtures: the embedded PostgreSQL server, archive and git helpers. Test code only;
 * other test packages and the CLI's tests use it, nothing in main code does.
 */
package dev.karta.server.testkit;
