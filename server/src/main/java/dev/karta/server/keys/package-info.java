/**
 * API keys and their scopes: minting secrets, storing only a bcrypt digest and a prefix,
 * validating presented keys cheaply (a short-lived cache, no bcrypt for malformed or unknown
 * keys, a bound on concurrent bcrypt work) and revoking them at once on this node.
 */
package dev.karta.server.keys;
