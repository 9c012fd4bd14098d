package dev.karta.server.ingest.git;

import dev.karta.server.audit.AuditLog;
import dev.karta.server.deploys.DeployStore;
import dev.karta.server.http.Authenticator;
import dev.karta.server.http.Routes;
import dev.karta.server.ingest.Ingest;
import dev.karta.server.logs.LogStore;
import dev.karta.server.projects.ProjectStore;
import dev.karta.server.projects.Projects;
import dev.karta.server.repos.GitRepos;
import dev.karta.server.store.Database;
import io.javalin.config.JavalinConfig;
import jakarta.servlet.DispatcherType;
import java.io.IOException;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jgit.errors.RepositoryNotFoundException;
import org.eclipse.jgit.http.server.GitServlet;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.transport.UploadPack;

/**
 * Git smart HTTP at {@code /git/{project}.git}: JGit's {@link GitServlet} mounted in Javalin's own
 * Jetty context behind {@link GitAuthFilter}. The project comes from the checked caller, not from
 * the URL JGit sees, so a request can only reach the repository the filter admitted it to.
 */
public final class GitHttp implements Routes, AutoCloseable {
    /** A build silent this long gets a "still building" line (Jetty drops connections idle for 30 s). */
    private static final Duration HEARTBEAT = Duration.ofSeconds(10);
    private static final String GIT_PROTOCOL = "Git-Protocol";

    private final Authenticator authenticator;
    private final Projects projects;
    private final GitRepos repos;
    private final GitPushes pushes;

    /**
     * @param maxPackBytes the largest pack one push may send (Karta uses max_expanded_bytes: a
     *                     push is history plus a tree, and this bounds the disk one push can fill)
     */
    public GitHttp(Authenticator authenticator, Database db, Projects projects, ProjectStore projectStore,
                   GitRepos repos, Ingest ingest, DeployStore deploys, AuditLog audit, LogStore logs,
                   long maxPackBytes) {
        this.authenticator = authenticator;
        this.projects = projects;
        this.repos = repos;
        this.pushes = new GitPushes(db, repos, ingest, projectStore, projects, new DeployFollower(deploys, logs, HEARTBEAT),
                audit, logs, maxPackBytes);
    }

    /**
     * An upload-pack (clone, fetch, ls-remote) speaking the protocol version the client asked for.
     * Git sends {@code Git-Protocol: version=2} (its default since 2.26); JGit's upload-pack speaks
     * v2, but its servlet does not pass the header on, so without this every fetch fell back to v0
     * and its full ref advertisement. Parameters are colon-separated (gitprotocol-http(5)).
     * Receive-pack has no v2: git pushes with v0 whatever it asks for fetches.
     */
    static UploadPack uploadPack(String gitProtocol, Repository repo) {
        UploadPack up = new UploadPack(repo);
        if (gitProtocol != null && !gitProtocol.isBlank()) {
            up.setExtraParameters(List.of(gitProtocol.split(":")));
        }
        return up;
    }

    /** Git smart HTTP is a servlet beside Javalin's: its own auth filter and request log. */
    @Override
    public void register(JavalinConfig config) {
        config.jetty.modifyServletContextHandler(this::mount);
    }

    /** Adds the git servlet and its auth filter to Javalin's servlet context. */
    void mount(ServletContextHandler context) {
        GitServlet servlet = new GitServlet();
        servlet.setRepositoryResolver((req, name) -> {
            try {
                return repos.open(GitCaller.of(req).project());
            } catch (IOException e) {
                throw new RepositoryNotFoundException(name, e);
            }
        });
        servlet.setUploadPackFactory((req, repo) -> uploadPack(req.getHeader(GIT_PROTOCOL), repo));
        servlet.setReceivePackFactory((req, repo) -> pushes.receivePack(GitCaller.of(req), repo));
        context.addServlet(new ServletHolder("git", servlet), "/git/*");
        context.addFilter(new FilterHolder(new GitAuthFilter(authenticator, projects)), "/git/*",
                EnumSet.of(DispatcherType.REQUEST));
    }

    /** Lets go of what pushes keep between them; the server is stopping. */
    @Override
    public void close() {
        pushes.close();
    }
}
