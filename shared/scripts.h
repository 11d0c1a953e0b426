/* SPDX-License-Identifier: ISC */
/*
 * scripts.h - the Lua scripts of lua/, compiled into the programs by the
 * Makefile (build/gen/scripts.c), so a deployed binary never runs a script
 * from another version.
 */
#ifndef BOX_SCRIPTS_H
#define BOX_SCRIPTS_H

extern const char *const lua_claim;
extern const char *const lua_load_zone;
extern const char *const lua_drop_zone;
extern const char *const lua_order;
extern const char *const lua_order_release;
extern const char *const lua_cancel;
extern const char *const lua_hold_expire;

#endif
