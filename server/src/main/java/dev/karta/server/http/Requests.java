package dev.karta.server.http;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import io.javalin.http.Context;
import java.io.IOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What handlers read off a request: the authenticated caller, its request id, a JSON body. */
public final class Requests {
    static final String PRINCIPAL = "karta.principal";
    static final String REQUEST_ID = "karta.request_id";
    static final String DASHBOARD_SESSION = "karta.dashboard_session";
    /** Jackson's text for {@link JsonParser.Feature#STRICT_DUPLICATE_DETECTION}; it has no own exception type. */
    private static final Pattern DUPLICATE_FIELD = Pattern.compile("Duplicate field '(.{1,200})'", Pattern.DOTALL);

    private Requests() {
    }

    /** The caller of a route that declares a scope; the auth layer has already checked it. */
    public static Principal principal(Context ctx) {
        Principal principal = ctx.attribute(PRINCIPAL);
        if (principal == null) {
            throw new IllegalStateException("route " + ctx.path() + " declares no scope but needs a caller");
        }
        return principal;
    }

    /** Records the caller of a request that signed in otherwise than by a header: the dashboard's cookie. */
    public static void signedIn(Context ctx, Principal principal) {
        ctx.attribute(PRINCIPAL, principal);
    }

    /** The id of the dashboard session a request was signed in with (its cookie), or null for a key. */
    public static String dashboardSession(Context ctx) {
        return ctx.attribute(DASHBOARD_SESSION);
    }

    public static String requestId(Context ctx) {
        return ctx.attribute(REQUEST_ID);
    }

    public static Actor actor(Context ctx) {
        Principal principal = principal(ctx);
        return new Actor(principal.orgId(), principal.keyId(), requestId(ctx), ctx.ip());
    }

    /**
     * Parses a JSON body into {@code type}: 415 unless the body is declared as JSON (or as curl's
     * default form type), 400 with the
     * parser's line and column when it is malformed, 413 past the configured body limit.
     */
    public static <T> T json(Context ctx, ObjectMapper mapper, Class<T> type) {
        return json(ctx, mapper, type, false);
    }

    /**
     * As {@link #json(Context, ObjectMapper, Class)}, for bodies that carry secrets: a malformed
     * body's error gives only the line and column, never the parser's words, which can quote the
     * text they stumbled on.
     */
    public static <T> T secretJson(Context ctx, ObjectMapper mapper, Class<T> type) {
        return json(ctx, mapper, type, true);
    }

    private static <T> T json(Context ctx, ObjectMapper mapper, Class<T> type, boolean secret) {
        String contentType = ctx.contentType();
        byte[] body = ctx.bodyAsBytes();
        if (body.length == 0) {
            throw ApiError.badRequest("request body is empty: send a JSON object");
        }
        String declared = contentType == null ? "" : contentType.toLowerCase(java.util.Locale.ROOT);
        // curl -d sends application/x-www-form-urlencoded unless told otherwise; the API only
        // speaks JSON, so such a body is read as JSON (`curl … -d '{"name":"shop"}'` just works).
        if (contentType != null && !declared.startsWith("application/json")
                && !declared.startsWith("application/x-www-form-urlencoded")) {
            throw new ApiError(ApiError.Kind.UNSUPPORTED_MEDIA_TYPE,
                    "expected Content-Type application/json, got '" + contentType + "'");
        }
        try {
            // Without strict detection Jackson keeps one of the two values, or for records fails
            // with a message about its creator properties; a duplicate is the client's mistake.
            T value = mapper.readerFor(type).with(JsonParser.Feature.STRICT_DUPLICATE_DETECTION).readValue(body);
            if (value == null) {
                throw ApiError.badRequest("request body must be a JSON object, not null");
            }
            return value;
        } catch (JsonProcessingException e) {
            Matcher duplicate = DUPLICATE_FIELD.matcher(String.valueOf(e.getOriginalMessage()));
            if (duplicate.matches()) {
                throw new ApiError(ApiError.Kind.BAD_REQUEST, "malformed_json",
                        "duplicate field \"" + duplicate.group(1) + "\" in the JSON body");
            }
            var at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw new ApiError(ApiError.Kind.BAD_REQUEST, "malformed_json", "malformed JSON" + where
                    + (secret && !(e instanceof MismatchedInputException) ? "" : ": " + conciseMessage(e)));
        } catch (IOException e) {
            throw ApiError.badRequest("could not read the request body: " + e.getMessage());
        }
    }

    private static String conciseMessage(JsonProcessingException e) {
        if (e instanceof MismatchedInputException mismatch) {
            // Jackson names our Java types here; say what the client sent wrong instead.
            String field = mismatch.getPath().stream().map(ref -> ref.getFieldName() != null ? ref.getFieldName()
                    : "[" + ref.getIndex() + "]").reduce((a, b) -> a + "." + b).orElse(null);
            return field == null ? "the body must be a JSON object" : "'" + field + "' has the wrong type";
        }
        String message = String.valueOf(e.getOriginalMessage());
        int detail = message.indexOf(" (start marker");
        if (detail < 0) {
            detail = message.indexOf("\n");
        }
        return detail < 0 ? message : message.substring(0, detail);
    }

    /** A positive integer query parameter, bounded, or its default when absent. */
    public static int limit(Context ctx, int defaultValue, int max) {
        String raw = ctx.queryParam("limit");
        if (raw == null || raw.isBlank()) {
            return defaultValue;
        }
        try {
            int value = Integer.parseInt(raw.trim());
            if (value < 1 || value > max) {
                throw ApiError.badRequest("limit must be between 1 and " + max + ", got " + raw);
            }
            return value;
        } catch (NumberFormatException e) {
            throw ApiError.badRequest("limit must be a number between 1 and " + max + ", got '" + raw + "'");
        }
    }
}
