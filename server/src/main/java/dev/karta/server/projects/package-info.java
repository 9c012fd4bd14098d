/**
 * Projects: one deployable harness application per project, named uniquely on the server and
 * owned by one org. A project has a stable URL and a pointer to the release it serves.
 */
package dev.karta.server.projects;
