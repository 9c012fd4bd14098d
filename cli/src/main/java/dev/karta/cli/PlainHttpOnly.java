package dev.karta.cli;

import java.security.SecureRandom;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLContextSpi;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;

/**
 * A TLS context for clients that only ever talk plain {@code http://}. {@link
 * java.net.http.HttpClient} otherwise initializes {@link SSLContext#getDefault()} when it is
 * built, loading the trust store: about a fifth of a second of every {@code karta} run against a
 * local server. Any attempt to use it fails loudly; {@code https://} servers get the default.
 */
final class PlainHttpOnly extends SSLContext {

    PlainHttpOnly() {
        super(new Refusing(), null, "none");
    }

    private static final class Refusing extends SSLContextSpi {
        @Override
        protected void engineInit(KeyManager[] keys, TrustManager[] trust, SecureRandom random) {
            // nothing to set up: this context never makes a connection
        }

        @Override
        protected SSLSocketFactory engineGetSocketFactory() {
            throw refused();
        }

        @Override
        protected SSLServerSocketFactory engineGetServerSocketFactory() {
            throw refused();
        }

        @Override
        protected SSLEngine engineCreateSSLEngine() {
            throw refused();
        }

        @Override
        protected SSLEngine engineCreateSSLEngine(String host, int port) {
            throw refused();
        }

        @Override
        protected SSLSessionContext engineGetServerSessionContext() {
            throw refused();
        }

        @Override
        protected SSLSessionContext engineGetClientSessionContext() {
            throw refused();
        }

        private static IllegalStateException refused() {
            return new IllegalStateException("TLS is not set up for a plain http:// server");
        }
    }
}
