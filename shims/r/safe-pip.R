# safe-pip R hook. Loaded by one line in ~/.Rprofile (`safe-pip setup r`) or in
# R_HOME/etc/Rprofile.site (`safe-pip setup r --site` prints it). Plain base R, no packages.
#
# What it does at startup (silently, offline, in well under a millisecond of work):
#   * points options(repos) at a dead local address, so nothing that bypasses the shims (such as
#     a qualified utils::install.packages) reaches the machine's CRAN mirror unchecked;
#   * once utils is attached, attaches an environment "safe-pip:shims" in front of it holding
#     install.packages() and update.packages() with utils' own signatures (renv's way: base R
#     and the utils namespace are not modified).
# What the shims do: start `safe-pip r serve` (once per session; it exits with the session or
# after 30 idle minutes), ask it to resolve and check the packages and their dependencies (and to
# fetch and check every archive R will install), stop() if anything is blocked or refused, and
# otherwise call utils' installer against the repository URL of that checked resolution. Any repos=/contriburl=/options(repos) pointing elsewhere is replaced, with
# one line saying so. install.packages(files, repos = NULL) is a direct reference: blocked unless
# the policy has directReferences: "allow", and then R installs the copy safe-pip fetched and judged.
local({
  # R CMD INSTALL reruns the profiles in every child R it starts: nothing to do in the children of
  # an install this hook started. Those carry SAFE_PIP_R_TOKEN, naming a marker file that exists
  # only while that install runs, so a variable inherited from elsewhere (a shell that exported
  # SAFE_PIP_ACTIVE, an R_INSTALL_PKG left set) never switches the hook off.
  tok <- Sys.getenv("SAFE_PIP_R_TOKEN")
  if (grepl("^[0-9]+x[0-9a-f]+$", tok) &&
      file.exists(file.path(Sys.getenv("TMPDIR", "/tmp"), paste0("safe-pip-r-active-", tok)))) return(invisible(NULL))

  sp <- new.env(parent = baseenv())
  sp$sentinel <- "http://127.0.0.1:1/safe-pip-repository-not-started"
  sp$url <- NULL
  sp$token <- NULL
  sp$idle <- "1800"

  sp$fail <- function(...) {
    stop(paste0("safe-pip: ", ..., "\nnothing was installed"), call. = FALSE)
  }

  # The safe-pip command as list(cmd, args): SAFE_PIP_BIN (a path, or a command line such as
  # "node /opt/safe-pip/dist/cli.js"), else `safe-pip` on PATH. system2 quotes `cmd` itself.
  sp$bin <- function() {
    b <- trimws(Sys.getenv("SAFE_PIP_BIN"))
    if (nzchar(b)) {
      if (file.exists(b)) return(list(cmd = b, args = character()))
      words <- strsplit(b, "[[:space:]]+")[[1L]]
      if (nzchar(Sys.which(words[1L]))) return(list(cmd = words[1L], args = words[-1L]))
      sp$fail("SAFE_PIP_BIN is set to \"", b, "\", which is not a command that exists")
    }
    w <- Sys.which("safe-pip")
    if (nzchar(w)) return(list(cmd = unname(w), args = character()))
    sp$fail("the safe-pip command was not found; put it on PATH or set SAFE_PIP_BIN (in ~/.Renviron for IDEs)")
  }

  # Local traffic must never go through a proxy.
  sp$no_proxy <- function() {
    cur <- Sys.getenv("no_proxy", Sys.getenv("NO_PROXY"))
    have <- trimws(strsplit(cur, ",", fixed = TRUE)[[1L]])
    add <- setdiff(c("127.0.0.1", "localhost"), have)
    if (length(add)) Sys.setenv(no_proxy = paste(c(have[nzchar(have)], add), collapse = ","))
  }

  sp$start <- function() {
    bin <- sp$bin()
    pf <- tempfile("safe-pip-", fileext = ".dcf")
    log <- tempfile("safe-pip-", fileext = ".log")
    args <- c(bin$args, "r", "serve", "--port-file", shQuote(pf), "--parent-pid", Sys.getpid(), "--idle-timeout", sp$idle)
    null_in <- if (.Platform$OS.type == "unix") "/dev/null" else ""
    # In the background, its output in a log file: it must not hold R's own stdout/stderr open.
    system2(bin$cmd, args, stdout = log, stderr = log, stdin = null_in, wait = FALSE)
    limit <- as.numeric(Sys.getenv("SAFE_PIP_R_START_TIMEOUT", "30"))
    deadline <- Sys.time() + limit
    while (!file.exists(pf)) {
      if (Sys.time() > deadline) {
        out <- if (file.exists(log)) readLines(log, warn = FALSE) else character()
        sp$fail("the safe-pip repository did not start within ", limit, " s",
                if (length(out)) paste0(":\n  ", paste(utils::tail(out, 5L), collapse = "\n  ")) else "")
      }
      Sys.sleep(0.05)
    }
    info <- read.dcf(pf)
    unlink(pf)
    if ("Error" %in% colnames(info)) sp$fail(info[1L, "Error"])
    sp$url <- unname(info[1L, "URL"])
    sp$token <- unname(info[1L, "Token"])
    sp$no_proxy()
    options(repos = c(CRAN = sp$url))
  }

  # GET a control endpoint; NULL when the repository cannot be reached.
  sp$get <- function(action, query = list()) {
    q <- vapply(seq_along(query), function(i)
      paste0(names(query)[i], "=", utils::URLencode(as.character(query[[i]]), reserved = TRUE)), "")
    u <- paste0(sp$url, "/__safe-pip/", action, "?", paste(c(paste0("token=", sp$token), "format=text", q), collapse = "&"))
    old <- options(timeout = max(900, getOption("timeout")))
    on.exit(options(old))
    tryCatch(suppressWarnings({
      con <- url(u)
      on.exit(close(con), add = TRUE)
      readLines(con, warn = FALSE)
    }), error = function(e) NULL)
  }

  # The repository, started on first use and restarted if it has gone (idle timeout).
  sp$ensure <- function() {
    if (is.null(sp$url) || is.null(sp$get("ping"))) sp$start()
  }

  sp$call <- function(action, query) {
    sp$ensure()
    lines <- sp$get(action, query)
    if (is.null(lines)) sp$fail("the safe-pip repository at ", sp$url, " stopped answering")
    parts <- strsplit(lines, "\t", fixed = TRUE)
    kind <- vapply(parts, function(p) p[1L], "")
    if (!length(kind) || kind[1L] != "status") sp$fail("unexpected answer from the safe-pip repository")
    if (parts[[1L]][2L] == "error") sp$fail(paste(vapply(parts[kind == "error"], function(p) p[2L], ""), collapse = "; "))
    list(status = parts[[1L]][2L], kind = kind, parts = parts)
  }

  sp$field <- function(res, k, i = 2L) vapply(res$parts[res$kind == k], function(p) p[i], "")

  sp$notes <- function(res) {
    for (n in sp$field(res, "note")) message("safe-pip: ", n)
  }

  sp$blocked <- function(res, what) {
    if (res$status != "blocked") return(invisible(NULL))
    stop(paste(c(paste0("safe-pip blocked ", what, "; nothing was installed:"),
                 paste0("  ", sp$field(res, "block"))), collapse = "\n"), call. = FALSE)
  }

  # Which of the repositories the caller meant are not ours: they are replaced, with one line.
  sp$replaced <- function(a) {
    where <- c(if ("repos" %in% names(a)) a$repos else getOption("repos"), a$contriburl)
    where <- unique(as.character(where[!is.na(where)]))
    ours <- c(sp$sentinel, sp$url)
    other <- where[!vapply(where, function(w) any(startsWith(w, ours)), TRUE)]
    if (length(other) || !is.null(a$available))
      message("safe-pip: installing from the safe-pip repository instead of ",
              if (length(other)) paste(other, collapse = ", ") else "the given 'available' list")
  }

  # The arguments the caller gave (promises forced once, in the caller's frame), by name.
  sp$args <- function(fe, fun) {
    out <- list()
    for (nm in setdiff(names(formals(fun)), "...")) {
      if (!eval(call("missing", as.name(nm)), fe)) out[nm] <- list(get(nm, envir = fe))
    }
    c(out, eval(quote(list(...)), fe))
  }

  # utils' own functions, kept before the namespace copies are replaced (sp$patch).
  sp$orig <- new.env(parent = emptyenv())
  sp$inside <- FALSE
  sp$original <- function(name) {
    if (!is.null(sp$orig[[name]])) sp$orig[[name]] else get(name, envir = asNamespace("utils"))
  }

  # utils' own function, with a live token for the R CMD INSTALL children (see the top).
  sp$real <- function(name, a) {
    # tempfile()'s random part, not sample(): the user's random number stream is left alone.
    tok <- paste0(Sys.getpid(), "x", gsub("[^0-9a-f]", "", basename(tempfile(""))))
    marker <- file.path(Sys.getenv("TMPDIR", "/tmp"), paste0("safe-pip-r-active-", tok))
    old <- Sys.getenv(c("SAFE_PIP_ACTIVE", "SAFE_PIP_R_TOKEN"), unset = NA)
    was <- sp$inside
    writeLines("", marker)
    Sys.setenv(SAFE_PIP_ACTIVE = "1", SAFE_PIP_R_TOKEN = tok)
    sp$inside <- TRUE
    # An archive not checked while resolving is fetched and checked whole before its first byte
    # reaches R: a large one on a slow link must not hit R's 60-second stall limit.
    oldopt <- options(timeout = max(900, getOption("timeout")))
    on.exit({
      options(oldopt)
      sp$inside <- was
      unlink(marker)
      for (k in names(old)) if (is.na(old[[k]])) Sys.unsetenv(k) else do.call(Sys.setenv, as.list(old[k]))
    })
    do.call(sp$original(name), a, quote = TRUE)
  }

  sp$install <- function(fe) {
    a <- sp$args(fe, sp$original("install.packages"))
    # utils' update.packages() calling install.packages() inside a checked run: already judged.
    if (sp$inside) return(do.call(sp$original("install.packages"), a, quote = TRUE))
    pkgs <- a$pkgs
    if (!length(pkgs)) sp$fail("name the packages to install: install.packages(\"pkg\")")
    given <- names(a)
    direct <- ("repos" %in% given && is.null(a$repos)) ||
      (!"repos" %in% given && !"contriburl" %in% given && length(pkgs) == 1L &&
         grepl("[.](tar[.](gz|bz2|xz)|zip|tgz)$", pkgs))
    if (direct) {
      res <- sp$call("direct", stats::setNames(as.list(pkgs), rep("path", length(pkgs))))
      sp$notes(res)
      sp$blocked(res, paste(pkgs, collapse = ", "))
      # R installs the copies safe-pip fetched (URLs) or copied, read and judged, never the
      # originals, which could change in between; the copies are removed afterwards.
      loc <- res$parts[res$kind == "local"]
      if (length(loc) != length(pkgs)) sp$fail("the safe-pip repository did not hand back a checked copy of every file")
      copies <- character()
      for (l in loc) {
        a$pkgs[as.integer(l[2L])] <- l[3L]
        if (identical(l[4L], "copy")) copies <- c(copies, dirname(l[3L]))
      }
      on.exit(unlink(copies, recursive = TRUE), add = TRUE)
      return(sp$real("install.packages", a))
    }
    sp$replaced(a)
    d <- a$dependencies
    dep <- if (is.null(d) || (is.logical(d) && length(d) == 1L && is.na(d))) "NA"
           else if (is.logical(d)) (if (isTRUE(d)) "TRUE" else "FALSE")
           else paste(d, collapse = ",")
    res <- sp$call("resolve", c(list(pkgs = paste(pkgs, collapse = ","), dependencies = dep, mode = "install"), sp$bindir(a$type)))
    for (h in sp$field(res, "held", 4L)) message("safe-pip: ", h)
    sp$notes(res)
    sp$prefetched(res)
    sp$blocked(res, paste(pkgs, collapse = ", "))
    a$repos <- sp$field(res, "repo")[1L]
    a$contriburl <- NULL
    a$available <- NULL
    sp$real("install.packages", a)
    sp$refused(a$repos)
  }

  # The binary directory R's installer will read (macOS .tgz; Windows .zip), so the repository
  # checks those archives before the install too; none when R installs from source (Linux).
  sp$bindir <- function(type) {
    if (is.null(type)) type <- getOption("pkgType")
    if (!is.character(type) || length(type) != 1L || identical(type, "source")) return(list())
    b <- sub("^/+", "", tryCatch(utils::contrib.url("", type = if (type == "both") "binary" else type),
                                 error = function(e) ""))
    if (grepl("^bin/", b)) list(bin = b) else list()
  }

  # The repository fetched and checked every archive of the resolution before R's installer runs:
  # one that is not the package judged stops the whole install, so nothing of it is installed.
  sp$prefetched <- function(res) {
    bad <- sp$field(res, "refused")
    if (!length(bad)) return(invisible(NULL))
    stop(paste(c("safe-pip refused what the upstream served; nothing was installed:",
                 paste0("  safe-pip refused ", bad)), collapse = "\n"), call. = FALSE)
  }

  # Only for an archive R fetched that was not checked before the install (never expected: the
  # resolution's archives all are): R only warns when a download fails, so ask what the
  # repository refused to serve and make that an error naming the reason.
  sp$refused <- function(repo) {
    res <- sp$call("refused", list(id = sub("^.*/r/", "", repo)))
    if (res$status != "blocked") return(invisible(NULL))
    stop(paste(c("safe-pip refused what the upstream served during the install; that package was not installed:",
                 paste0("  safe-pip refused ", sp$field(res, "block"))), collapse = "\n"), call. = FALSE)
  }

  sp$update <- function(fe) {
    a <- sp$args(fe, sp$original("update.packages"))
    if (sp$inside) return(do.call(sp$original("update.packages"), a, quote = TRUE))
    lib <- if (is.null(a$lib.loc)) .libPaths() else a$lib.loc
    inst <- utils::installed.packages(lib.loc = lib, fields = "Priority")
    inst <- inst[is.na(inst[, "Priority"]) | inst[, "Priority"] != "base", , drop = FALSE]
    if (!is.null(a$oldPkgs)) {
      wanted <- if (is.matrix(a$oldPkgs)) a$oldPkgs[, "Package"] else a$oldPkgs
      inst <- inst[inst[, "Package"] %in% wanted, , drop = FALSE]
    }
    if (!nrow(inst)) return(invisible(NULL))
    sp$replaced(a)
    # `have`: the installed versions, so only the archives update.packages() will fetch (newer
    # releases, new dependencies) are fetched and checked before it starts.
    have <- paste(unique(paste0(inst[, "Package"], "_", inst[, "Version"])), collapse = ",")
    res <- sp$call("resolve", c(list(pkgs = paste(unique(inst[, "Package"]), collapse = ","), dependencies = "NA",
                                     mode = "update", have = have), sp$bindir(a$type)))
    # A held-back release matters only where it is newer than what is installed.
    held <- res$parts[res$kind == "held"]
    for (h in held) {
      have <- inst[inst[, "Package"] == h[2L], "Version"]
      if (length(have) && nzchar(h[3L]) && any(package_version(have) < package_version(h[3L]))) message("safe-pip: ", h[4L])
    }
    sp$notes(res)
    sp$prefetched(res)
    a$repos <- sp$field(res, "repo")[1L]
    a$contriburl <- NULL
    a$available <- NULL
    sp$real("update.packages", a)
    sp$refused(a$repos)
  }

  # A function with exactly utils' formals that hands its frame to `impl`.
  sp$shim <- function(name, impl) {
    f <- function() NULL
    formals(f) <- formals(get(name, envir = asNamespace("utils")))
    body(f) <- substitute(IMPL(environment()), list(IMPL = as.name(impl)))
    environment(f) <- sp
    f
  }
  sp$sp_install <- function(fe) sp$install(fe)
  sp$sp_update <- function(fe) sp$update(fe)

  sp$attach <- function(...) {
    if ("safe-pip:shims" %in% search()) return(invisible(NULL))
    e <- attach(NULL, pos = 2L, name = "safe-pip:shims", warn.conflicts = FALSE)
    assign("install.packages", sp$shim("install.packages", "sp_install"), envir = e)
    assign("update.packages", sp$shim("update.packages", "sp_update"), envir = e)
    invisible(NULL)
  }

  # The utils namespace's own install.packages/update.packages are replaced too, so a qualified
  # utils::install.packages(repos = ...) and packages that import it (BiocManager, pacman) are
  # judged as well; the originals are kept in sp$orig.
  sp$patch <- function(...) {
    ns <- asNamespace("utils")
    for (nm in c("install.packages", "update.packages")) {
      if (!is.null(sp$orig[[nm]])) next
      sp$orig[[nm]] <- get(nm, envir = ns)
      f <- sp$shim(nm, if (nm == "install.packages") "sp_install" else "sp_update")
      for (where in list(ns, if ("package:utils" %in% search()) as.environment("package:utils"))) {
        if (is.null(where) || !exists(nm, envir = where, inherits = FALSE)) next
        locked <- bindingIsLocked(nm, where)
        if (locked) unlockBinding(nm, where)
        assign(nm, f, envir = where)
        if (locked) lockBinding(nm, where)
      }
    }
    invisible(NULL)
  }

  options(repos = c(CRAN = sp$sentinel))
  if (isNamespaceLoaded("utils")) sp$patch()
  else setHook(packageEvent("utils", "onLoad"), function(...) try(sp$patch(), silent = TRUE))
  if ("package:utils" %in% search()) sp$attach()
  else setHook(packageEvent("utils", "attach"), function(...) { sp$patch(); try(sp$attach(), silent = TRUE) })
})
