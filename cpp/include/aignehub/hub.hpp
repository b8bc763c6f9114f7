#pragma once

#include <filesystem>
#include <memory>

#include "aignehub/server.hpp"

namespace aignehub {

class store;

/// One aignehub installation: its data directory and the store inside it. The control plane
/// (Python, CLI, admin API) works through a hub; servers started from it share its store.
class hub {
public:
    /// Creates the data directory (mode 0700) when absent and opens the store in it.
    explicit hub(std::filesystem::path data_dir);

    [[nodiscard]] const std::filesystem::path& data_dir() const noexcept { return data_dir_; }
    [[nodiscard]] std::filesystem::path database_path() const { return data_dir_ / "aignehub.db"; }
    [[nodiscard]] const std::shared_ptr<store>& get_store() const noexcept { return store_; }

    /// Starts a server on this hub's store.
    [[nodiscard]] std::unique_ptr<server> serve(server_config config) const;

private:
    std::filesystem::path data_dir_;
    std::shared_ptr<store> store_;
};

} // namespace aignehub
