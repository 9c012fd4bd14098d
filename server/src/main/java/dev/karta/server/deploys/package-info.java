/**
 * Deploy records, their store and routes. A deploy moves queued → building → succeeded, failed,
 * superseded or canceled; the database guarantees one building deploy per project, and a lease
 * lets any server retry or fail a build whose server died. Running the builds belongs to
 * {@code builds}.
 */
package dev.karta.server.deploys;
