/**
 * Deploys and the persistent build queue. A deploy moves queued → building → succeeded, failed,
 * superseded or canceled; the database guarantees one building deploy per project, and a lease
 * lets any server retry or fail a build whose server died.
 */
package dev.karta.server.deploys;
