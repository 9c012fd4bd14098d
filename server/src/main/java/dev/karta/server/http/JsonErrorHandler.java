package dev.karta.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.ErrorBody;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Errors Jetty answers itself, before a request reaches Javalin (a malformed or ambiguous URI, a
 * bad header), in Karta's {@code {"error","message"}} shape instead of an HTML page, and with
 * {@code Connection: close}.
 */
final class JsonErrorHandler extends ErrorHandler {
    private final ObjectMapper json;

    JsonErrorHandler(ObjectMapper json) {
        this.json = json;
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                    Callback callback) throws IOException {
        ApiError.Kind kind = ApiError.Kind.ofStatus(code);
        String text = message == null || message.isBlank() || message.equalsIgnoreCase("Bad Request")
                ? "the request's URI or headers are malformed" : message;
        byte[] body;
        try {
            body = json.writeValueAsBytes(new ErrorBody(kind.code(), text));
        } catch (JsonProcessingException e) {
            body = ("{\"error\":\"" + kind.code() + "\",\"message\":\"bad request\"}").getBytes();
        }
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        // Jetty closes the connection after an error it answers itself; without saying so, a client
        // would send its next request on it and get no answer (Java's HttpClient then fails a POST
        // rather than retrying it).
        response.getHeaders().put(HttpHeader.CONNECTION, "close");
        response.write(true, ByteBuffer.wrap(body), callback);
    }
}
