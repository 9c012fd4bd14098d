/**
 * Tenants. Every key and project belongs to exactly one org; the first start of an empty server
 * creates org {@code default} with an admin key, and operators add more with
 * {@code karta server create-org}.
 */
package dev.karta.server.orgs;
