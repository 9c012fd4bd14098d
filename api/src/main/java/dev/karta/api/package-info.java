/**
 * The wire types of Karta's HTTP API, shared by the server and the CLI so both sides agree on
 * every field. Records only: no behaviour beyond small derived values. {@link dev.karta.api.Json}
 * builds the one JSON mapping both sides use (snake_case fields, RFC 3339 UTC timestamps).
 */
package dev.karta.api;
