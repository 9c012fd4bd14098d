/**
 * The append-only audit log: who changed what, when, from where. Events are appended in the
 * same transaction as the change they describe; the schema refuses updates and deletes.
 */
package dev.karta.server.audit;
