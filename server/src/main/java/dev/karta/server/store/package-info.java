/**
 * Shared persistence plumbing: the connection pool, transactions as callbacks, schema migrations
 * and the SQL dialect in use. Feature SQL lives in each feature's own store, never here.
 */
package dev.karta.server.store;
