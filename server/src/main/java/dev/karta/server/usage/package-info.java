/**
 * Usage: what a project did in one calendar month (deploys, builds and their seconds, releases,
 * sessions, messages), counted from the tables that record those things, and the bytes its
 * release trees and uploaded archives take on disk now.
 */
package dev.karta.server.usage;
