package dev.karta.server.ingest.upload;

import static dev.karta.server.http.Scope.WRITE;

import dev.karta.server.build.ArchiveRejected;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.DeploySource;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.ingest.Ingest;
import dev.karta.server.projects.Projects;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Handler of {@code POST /agent_projects/{p}/releases}. The body is read once, into the release
 * files' staging area, while it is hashed; then the {@code Idempotency-Key} is checked (a replay
 * is answered without extracting anything), the org's limits are checked, and only then is the
 * archive checked and extracted. The archive and its tree join the store in the transaction that
 * records the deploy: a refused ingest leaves neither behind. Only a clean archive reaches
 * {@link Ingest}.
 */
public final class UploadRoutes implements Routes {
    private static final Set<String> GZIP_TYPES = Set.of("application/gzip", "application/x-gzip",
            "application/x-tar+gzip", "application/x-compressed-tar", "application/octet-stream");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-fA-F]{4,64}");

    private final Ingest ingest;
    private final ReleaseFiles files;
    private final Idempotency idempotency;
    private final long maxArchiveBytes;

    public UploadRoutes(Ingest ingest, ReleaseFiles files, Idempotency idempotency, long maxArchiveBytes) {
        this.ingest = ingest;
        this.files = files;
        this.idempotency = idempotency;
        this.maxArchiveBytes = maxArchiveBytes;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.post("/agent_projects/{project}/releases", this::publish, WRITE);
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
        String named = commit == null ? null : commit.trim().toLowerCase(Locale.ROOT);
        try (ReleaseFiles.Incoming incoming = files.receive(ctx.req().getInputStream(), maxArchiveBytes)) {
            // The archive's digest and the named commit (an unnamed one is the tree's digest, which
            // the archive determines) identify the request before anything is extracted.
            String fingerprint = "upload:" + project + ":" + incoming.artifact() + ":" + (named == null ? "" : named);
            idempotency.respond(ctx, fingerprint, () -> {
                ingest.checkLimits(Requests.actor(ctx), project, true);
                Tree tree = extract(incoming);
                String sha = named != null ? named : tree.contentDigest().substring("sha256:".length());
                DeployRecord deploy = ingest.accept(Requests.actor(ctx), project, true,
                        new Ingest.Arrival(DeploySource.UPLOAD, sha, incoming.artifact(), tree.contentDigest(),
                                tree.files() + " files, " + tree.bytes() + " bytes (" + incoming.bytes()
                                        + " bytes compressed, archive sha256:" + incoming.artifact().substring(0, 12)
                                        + ")", DeploySource.UPLOAD.wireName(), Idempotency.key(ctx)),
                        (h, queued) -> keep(incoming));
                return new Idempotency.Answer(202, deploy.toWire());
            });
        }
    }

    private static Tree extract(ReleaseFiles.Incoming incoming) {
        try {
            return incoming.extract();
        } catch (ArchiveRejected e) {
            throw new ApiError(e.tooLarge() ? ApiError.Kind.TOO_LARGE : ApiError.Kind.UNPROCESSABLE, e.rule(), e.getMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Puts the archive and its tree in the store inside the transaction that records the deploy,
     * before the build workers are woken: a build never looks for them in vain.
     */
    private static void keep(ReleaseFiles.Incoming incoming) {
        try {
            incoming.keep();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
