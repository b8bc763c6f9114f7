#include "aignehub/hub.hpp"

#include "aignehub/errors.hpp"
#include "aignehub/store.hpp"

#include <sys/stat.h>

namespace aignehub {

namespace {

std::filesystem::path prepare_data_dir(std::filesystem::path dir) {
    if (dir.empty()) {
        throw config_error("data_dir: must not be empty");
    }
    std::error_code ec;
    if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
        throw config_error("data_dir: " + dir.string() + " exists and is not a directory");
    }
    if (!std::filesystem::exists(dir, ec)) {
        std::filesystem::create_directories(dir, ec);
        if (ec) {
            throw store_error("cannot create the data directory " + dir.string() + ": " +
                              ec.message());
        }
        // The directory will hold the database and the master-key file: owner only.
        ::chmod(dir.c_str(), 0700);
    }
    return std::filesystem::absolute(dir, ec);
}

} // namespace

hub::hub(std::filesystem::path data_dir)
    : data_dir_(prepare_data_dir(std::move(data_dir))), store_(open_sqlite_store(database_path())) {
}

std::unique_ptr<server> hub::serve(server_config config) const {
    return std::make_unique<server>(std::move(config), store_);
}

} // namespace aignehub
