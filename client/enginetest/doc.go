// Package enginetest provides a fake e6data engine for tests, demos and the
// "e6coord fake-engine" command, in the manner of net/http/httptest.
//
// [NewServer] starts a real gRPC server on loopback (or on a given address or
// listener) that serves QueryEngineService and ClusterService as the engine
// does (see PROTOCOL.md): sessions, the query lifecycle, results in the
// engine's own encodings (package client/internal/resultenc), a small catalog, and
// above all the blue-green behaviour: the `strategy` request header is
// checked against the colour being served, a wrong colour is rejected in one
// of the three ways clients meet in the wild ([Rejection]), and a switch to
// the other colour is announced with new_strategy and carried out in one of
// the two ways engines do it ([SwitchMode]).
//
// Switches are driven step by step ([Server.BeginSwitch],
// [Server.FinishSwitch], [Server.Announce], [Server.SetActive]), so that
// tests need no sleeping, or on a schedule ([Options.FlipEvery]) by a
// goroutine that [Server.Close] stops.
//
// The cluster can be suspended ([Options.ClusterStatus],
// [Server.SetClusterStatus]): while it is not active every engine call
// fails with Unavailable (HTTP 503), and ClusterService resumes it, at once or
// after [Options.ResumeTakes], successfully or not ([Options.ResumeFails]);
// it may suspend itself when idle ([Options.SuspendAfter]). These changes
// are computed from [Options.Now] whenever the status is observed, so no
// timer runs and a test can inject the clock.
//
// Every call, ClusterService's included, is recorded with its metadata
// ([Server.Log], [Server.Counts], [Server.ResumeCalls]); [Server.MixedQueries]
// lists the queries whose calls carried two different colours, which a
// correct client never produces.
//
// Built-in queries: "SELECT 1" (one LONG column "1" holding 1), and
// "SELECT * FROM demo.numbers" ([NumbersRows] rows of id LONG, name STRING,
// ratio DOUBLE and even BOOLEAN, see [NumbersRow]), optionally with
// "LIMIT n", served in batches of [Options.BatchSize]. "SELECT * FROM
// demo.types" returns [TypesRows] rows of every type the engine sends, with
// NULLs, edge values and constant vectors ([TypesColumns], [TypesRow] give
// the exact value of every cell as the client returns it). "SELECT * FROM
// demo.big LIMIT n" returns n rows of mixed types ([BigRows] without
// LIMIT; [BigColumns], [BigRow]), generated and encoded one batch of
// [Options.BigBatchSize] rows at a time as the client fetches it, so that a
// result of any length takes no memory in the fake engine. "SELECT * FROM
// demo.one" returns one row. [Server.SetResult] adds or replaces a query's
// result, raw bytes included ([Result].Metadata, [Result].Batches), to
// test clients against malformed results. A query of literals only, such
// as "SELECT 'a', 42, NULL", returns one row of them, read with standard
// SQL's quoting ([ParseLiterals]). Anything else fails with
// InvalidArgument.
package enginetest
