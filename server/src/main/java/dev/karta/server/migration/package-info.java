/**
 * Moving an installation: {@code karta server export} writes every table and the release files and
 * git repositories of a server into one file, {@code import} puts them into another database
 * (SQLite or PostgreSQL) and storage, and {@code migrate-storage} copies a data dir into the
 * PostgreSQL storage of replicas. Every copy is verified by digests at its end.
 */
package dev.karta.server.migration;
