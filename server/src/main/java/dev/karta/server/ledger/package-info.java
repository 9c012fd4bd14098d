/**
 * The tamper-evident ledger: audit events chained per org and releases chained per project, each
 * row's hash taken over its canonical JSON and the previous row's hash. Owns what is hashed
 * ({@link dev.karta.server.ledger.Ledger}), the canonical JSON, the chains' SQL and their
 * one-time sealing, and the verification and export routes. See docs/audit.md.
 */
package dev.karta.server.ledger;
