/**
 * Shared persistence plumbing: the connection pool, transactions as callbacks, schema migrations
 * and the SQL dialect in use, messages between the servers sharing a PostgreSQL database
 * (LISTEN/NOTIFY), and the small technical pieces every feature shares (content digests, daemon
 * thread factories). Feature SQL lives in each feature's own store, never here.
 */
package dev.karta.server.store;
