/**
 * The one entry point every door ends in (git push, deploy by commit, webhook, upload): it
 * records a deploy with its source and actor, queues its build and wakes the workers.
 */
package dev.karta.server.ingest;
