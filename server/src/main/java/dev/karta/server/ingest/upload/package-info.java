/**
 * The upload door: {@code POST /agent_projects/{p}/releases} with a {@code .tar.gz} body, as sent
 * by {@code karta publish}. The archive is checked and materialized while it streams in, so a
 * hostile or oversized one is refused with 413/422 before anything is queued.
 */
package dev.karta.server.ingest.upload;
