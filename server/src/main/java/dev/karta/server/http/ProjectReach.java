package dev.karta.server.http;

import io.javalin.security.RouteRole;

/**
 * Marks a route without a {@code {project}} path parameter that a project-restricted key may still
 * call, because its handler narrows what it answers or does to the key's project (the project
 * list, creating a project, {@code /whoami}). Every other such route is org-wide, and refused to a
 * restricted key by {@link Authenticator}.
 */
public enum ProjectReach implements RouteRole {
    NARROWED_BY_HANDLER
}
