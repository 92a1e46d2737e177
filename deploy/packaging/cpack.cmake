# The Debian package: `cpack -G DEB` in a build folder makes moat_VERSION_ARCH.deb with
#
#   /usr/bin/moat                       the (stripped) binary
#   /etc/moat/moat.yaml, passwd, acl    conffiles (deploy/packaging/etc/)
#   /lib/systemd/system/moat.service    the hardened unit (deploy/systemd/)
#   /usr/share/doc/moat/                README, certificate guide, examples (the example
#                                       config and the nftables ruleset), copyright
#
# and the maintainer scripts in deploy/packaging/debian/ (the moat user, ownership of
# /etc/moat, a self-signed development certificate, the systemd unit). It packages what
# this build folder has built: run `cmake --build` first. Included at the end of the
# top-level CMakeLists.txt.
#
# The files of the package live in the install component "deb", excluded from a plain
# `cmake --install`, which therefore still writes nothing outside its prefix.

set(MOAT_DEB_MAINTAINER "moat maintainers <moat-maintainers@example.org>"
    CACHE STRING "Maintainer field of the Debian package (Name <address>)")
set(MOAT_DEB_REVISION "" CACHE STRING
    "Debian revision appended to the version as VERSION-REVISION (empty: native package)")

set(_moat_deb_dir "${CMAKE_CURRENT_LIST_DIR}")
set(_moat_deploy_dir "${_moat_deb_dir}/..")
# Shipped 0644 root:root (none of them holds a secret as shipped); the postinst registers
# dpkg-statoverride root:moat 0640, which dpkg applies from then on, upgrades included.
set(_moat_etc_mode OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

install(FILES "${_moat_deb_dir}/etc/moat.yaml" "${_moat_deb_dir}/etc/passwd"
              "${_moat_deb_dir}/etc/acl"
        DESTINATION /etc/moat PERMISSIONS ${_moat_etc_mode}
        COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES "${_moat_deploy_dir}/systemd/moat.service"
        DESTINATION /lib/systemd/system COMPONENT deb EXCLUDE_FROM_ALL)

# Documentation. A native package's changelog is changelog.gz, a revisioned one's
# changelog.Debian.gz; both compressed with gzip -9n (no name or time stamp).
if(MOAT_DEB_REVISION STREQUAL "")
  set(MOAT_DEB_VERSION "${PROJECT_VERSION}")
  set(_moat_changelog_name changelog.gz)
else()
  set(MOAT_DEB_VERSION "${PROJECT_VERSION}-${MOAT_DEB_REVISION}")
  set(_moat_changelog_name changelog.Debian.gz)
endif()
string(TIMESTAMP MOAT_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)  # SOURCE_DATE_EPOCH wins
set(_moat_deb_build "${CMAKE_BINARY_DIR}/deploy-packaging")
configure_file("${_moat_deb_dir}/changelog.in" "${_moat_deb_build}/changelog" @ONLY)
execute_process(COMMAND gzip -9nc "${_moat_deb_build}/changelog"
                OUTPUT_FILE "${_moat_deb_build}/${_moat_changelog_name}"
                COMMAND_ERROR_IS_FATAL ANY)
set(_moat_doc share/doc/moat)
install(FILES "${_moat_deb_dir}/copyright" "${_moat_deb_build}/${_moat_changelog_name}"
              "${PROJECT_SOURCE_DIR}/README.md"
        DESTINATION ${_moat_doc} COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES "${PROJECT_SOURCE_DIR}/certs/README.md"
        DESTINATION ${_moat_doc}/certs COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES "${_moat_deploy_dir}/moat.example.yaml"
              "${_moat_deploy_dir}/nftables/moat-appliance.nft"
        DESTINATION ${_moat_doc}/examples COMPONENT deb EXCLUDE_FROM_ALL)

set(CPACK_PACKAGE_NAME moat)
set(CPACK_PACKAGE_VENDOR "moat")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${MOAT_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "security-enforcing MQTT proxy")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)

# One package from the binary's component ("Unspecified", proxy/CMakeLists.txt) and
# the packaging files.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL Unspecified deb)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)

set(CPACK_DEBIAN_PACKAGE_NAME moat)
set(CPACK_DEBIAN_PACKAGE_VERSION "${PROJECT_VERSION}")
if(NOT MOAT_DEB_REVISION STREQUAL "")
  set(CPACK_DEBIAN_PACKAGE_RELEASE "${MOAT_DEB_REVISION}")
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${MOAT_DEB_MAINTAINER}")
# Library dependencies come from dpkg-shlibdeps; the maintainer scripts need adduser
# (the moat user) and openssl (the development certificate).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, openssl")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mosquitto, nftables")
# The synopsis is CPACK_PACKAGE_DESCRIPTION_SUMMARY; cpack indents these lines by one
# space and turns the empty one into " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "moat stands in front of an existing MQTT broker. It terminates TLS, parses
every packet of MQTT 3.1, 3.1.1 and 5.0 strictly, authenticates CONNECT
against a mosquitto-compatible password file, forwards only what is
permitted and exports every denial as Prometheus metrics.

The package runs moat as the moat.service systemd unit under a dedicated
moat user, configured in /etc/moat.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_moat_deb_dir}/debian/postinst" "${_moat_deb_dir}/debian/prerm"
    "${_moat_deb_dir}/debian/postrm" "${_moat_deb_dir}/debian/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
