package dev.karta.server.ingest.upload;

import dev.karta.server.DataDir;
import dev.karta.server.build.ArchiveRejected;
import dev.karta.server.build.Tree;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.DeploySource;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Requests;
import dev.karta.server.ingest.Ingest;
import dev.karta.server.ingest.Sources;
import dev.karta.server.projects.Projects;
import dev.karta.server.store.Digests;
import io.javalin.http.Context;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Handler of {@code POST /agent_projects/{p}/releases}. The body is read once: it is written to
 * the content-addressed artifact store (by sha256) while the materializer checks and extracts
 * it. Only a clean archive reaches {@link Ingest}.
 */
public final class UploadRoutes {
    private static final Set<String> GZIP_TYPES = Set.of("application/gzip", "application/x-gzip",
            "application/x-tar+gzip", "application/x-compressed-tar", "application/octet-stream");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-fA-F]{4,64}");
    private static final String TEMP_PREFIX = ".upload-";
    private static final String TEMP_SUFFIX = ".tmp";

    private final Ingest ingest;
    private final Sources sources;
    private final DataDir dataDir;
    private final Idempotency idempotency;
    private final long maxArchiveBytes;

    public UploadRoutes(Ingest ingest, Sources sources, DataDir dataDir, Idempotency idempotency,
                        long maxArchiveBytes) {
        this.ingest = ingest;
        this.sources = sources;
        this.dataDir = dataDir;
        this.idempotency = idempotency;
        this.maxArchiveBytes = maxArchiveBytes;
    }

    public void publish(Context ctx) throws IOException {
        String project = ctx.pathParam("project");
        Projects.validateName(project);
        String type = ctx.contentType() == null ? "" : ctx.contentType().split(";")[0].trim().toLowerCase(Locale.ROOT);
        if (!GZIP_TYPES.contains(type)) {
            throw new ApiError(ApiError.Kind.UNSUPPORTED_MEDIA_TYPE, "expected a .tar.gz body with Content-Type "
                    + "application/gzip, got '" + (type.isEmpty() ? "none" : type) + "'");
        }
        long declared = ctx.req().getContentLengthLong();
        if (declared > maxArchiveBytes) {
            throw new ApiError(ApiError.Kind.TOO_LARGE, "archive_too_large", "archive is " + declared
                    + " bytes; the limit is " + maxArchiveBytes + " bytes compressed (max_archive_bytes)");
        }
        String commit = ctx.header("X-Karta-Commit");
        if (commit != null && !COMMIT.matcher(commit.trim()).matches()) {
            throw ApiError.badRequest("X-Karta-Commit must be a hex commit SHA (4 to 64 characters), got '" + commit + "'");
        }
        ingest.checkLimits(Requests.actor(ctx), project, true); // before reading what would be refused
        Received received = receive(ctx.req().getInputStream());
        String sha = commit != null ? commit.trim().toLowerCase(Locale.ROOT)
                : received.tree().contentDigest().substring("sha256:".length());
        String fingerprint = "upload:" + project + ":" + received.artifact() + ":" + sha;
        idempotency.respond(ctx, fingerprint, () -> {
            DeployRecord deploy = ingest.accept(Requests.actor(ctx), project, true,
                    new Ingest.Arrival(DeploySource.UPLOAD, sha, received.artifact(), received.tree().contentDigest(),
                            received.tree().files() + " files, " + received.tree().bytes() + " bytes ("
                                    + received.bytes() + " bytes compressed, archive sha256:"
                                    + received.artifact().substring(0, 12) + ")"));
            return new Idempotency.Answer(202, deploy.toWire());
        });
    }

    private record Received(String artifact, long bytes, Tree tree) {
    }

    /**
     * Removes the temporary copies of uploads that a killed server left in the artifact store
     * ({@code .upload-*.tmp}; an upload in progress deletes its own). Runs at start, before any
     * upload is accepted. Returns how many were removed.
     */
    public static int sweepTemporaryFiles(DataDir dataDir) throws IOException {
        if (!Files.isDirectory(dataDir.artifacts())) {
            return 0;
        }
        int removed = 0;
        try (var leftovers = Files.newDirectoryStream(dataDir.artifacts(), TEMP_PREFIX + "*" + TEMP_SUFFIX)) {
            for (Path leftover : leftovers) {
                removed += Files.deleteIfExists(leftover) ? 1 : 0;
            }
        }
        return removed;
    }

    /** Streams the body into the artifact store and the materializer at once. */
    private Received receive(InputStream body) throws IOException {
        Files.createDirectories(dataDir.artifacts());
        Path temp = Files.createTempFile(dataDir.artifacts(), TEMP_PREFIX, TEMP_SUFFIX);
        try {
            MessageDigest sha = Digests.sha256();
            long bytes;
            Tree tree;
            try (OutputStream copy = Files.newOutputStream(temp);
                 Tee tee = new Tee(body, copy, sha)) {
                try {
                    tree = sources.materialize(tee);
                } catch (ArchiveRejected e) {
                    throw e.toApiError();
                }
                tee.drain(maxArchiveBytes);
                bytes = tee.count;
            }
            String artifact = Digests.hex(sha.digest());
            Path target = dataDir.artifact(artifact);
            if (!Files.exists(target)) {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            return new Received(artifact, bytes, tree);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** Copies and hashes every byte read through it. */
    private static final class Tee extends FilterInputStream {
        private final OutputStream copy;
        private final MessageDigest sha;
        private long count;

        Tee(InputStream in, OutputStream copy, MessageDigest sha) {
            super(in);
            this.copy = copy;
            this.sha = sha;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                copy.write(b, off, n);
                sha.update(b, off, n);
                count += n;
            }
            return n;
        }

        /** Reads what the tar reader left unread (padding), up to the archive cap. */
        void drain(long max) throws IOException {
            byte[] buffer = new byte[8192];
            while (read(buffer, 0, buffer.length) > 0) {
                if (count > max) {
                    throw new ApiError(ApiError.Kind.TOO_LARGE, "archive_too_large",
                            "archive is larger than " + max + " bytes compressed (max_archive_bytes)");
                }
            }
        }

        @Override
        public void close() {
            // The request body belongs to the server; only the copy is closed by its owner.
        }
    }
}
