package dev.karta.api;

import java.util.List;

public record DeployList(List<Deploy> deploys) {
}
