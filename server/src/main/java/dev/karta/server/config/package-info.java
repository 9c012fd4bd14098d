/**
 * Config vars: each project's named values (model API keys and the like), sealed at rest. A change
 * makes a release with the active release's tree and the new set, activated at once; every release
 * carries the set it runs with, which harness turns (and builds, when {@code karta.toml} asks)
 * get as environment variables.
 */
package dev.karta.server.config;
