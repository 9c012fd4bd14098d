/**
 * Storage in PostgreSQL ({@code --storage database}): release archives and trees as
 * content-addressed blobs ({@code Blobs}, {@code DatabaseReleaseFiles}) and git repositories on
 * JGit's DFS layer, so that any number of replicas share them and the data dir is only a cache
 * (the data dir's {@code ReleaseCache}).
 */
package dev.karta.server.dbstorage;
