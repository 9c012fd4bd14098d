package dev.karta.server.ingest.git;

import dev.karta.server.http.Actor;
import dev.karta.server.http.Principal;
import dev.karta.server.projects.ProjectRecord;
import jakarta.servlet.http.HttpServletRequest;
import java.util.Objects;

/**
 * The checked caller of one {@code /git/{project}.git} request and the project it addresses,
 * put on the request by {@link GitAuthFilter} for the JGit factories and hooks behind it.
 */
record GitCaller(Principal principal, Actor actor, ProjectRecord project) {
    private static final String ATTRIBUTE = "karta.git.caller";

    GitCaller {
        Objects.requireNonNull(principal, "principal");
        Objects.requireNonNull(actor, "actor");
        Objects.requireNonNull(project, "project");
    }

    void attachTo(HttpServletRequest request) {
        request.setAttribute(ATTRIBUTE, this);
    }

    /** The caller the filter attached; a request that did not pass the filter is a programming error. */
    static GitCaller of(HttpServletRequest request) {
        Object caller = request.getAttribute(ATTRIBUTE);
        if (!(caller instanceof GitCaller checked)) {
            throw new IllegalStateException("git request " + request.getRequestURI() + " bypassed GitAuthFilter");
        }
        return checked;
    }
}
