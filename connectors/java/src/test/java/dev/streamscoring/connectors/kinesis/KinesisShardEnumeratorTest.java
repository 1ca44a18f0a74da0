package dev.streamscoring.connectors.kinesis;

import dev.streamscoring.connectors.aws.AwsConnectorException;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.streamscoring.connectors.kinesis.FakeKinesisProxy.shard;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KinesisShardEnumeratorTest {

    private static final Instant START = Instant.parse("2026-01-01T10:00:00Z");
    private static final String S0 = "shardId-000000000000";
    private static final String S1 = "shardId-000000000001";
    private static final String S2 = "shardId-000000000002";
    private static final String S3 = "shardId-000000000003";
    private static final String S4 = "shardId-000000000004";
    private static final String S5 = "shardId-000000000005";

    private final FakeKinesisProxy proxy = new FakeKinesisProxy();

    private KinesisShardEnumerator enumerator(
            FakeEnumeratorContext context, StartingPosition initial, KinesisEnumeratorState state) {
        KinesisShardEnumerator enumerator =
                new KinesisShardEnumerator(
                        context,
                        proxy,
                        initial,
                        10_000L,
                        state,
                        Clock.fixed(START, ZoneOffset.UTC));
        enumerator.start();
        return enumerator;
    }

    private static FakeEnumeratorContext contextWithReaders(int parallelism) {
        FakeEnumeratorContext context = new FakeEnumeratorContext(parallelism);
        for (int i = 0; i < parallelism; i++) {
            context.registerReader(i);
        }
        return context;
    }

    private static KinesisEnumeratorState roundTrip(KinesisEnumeratorState state) throws Exception {
        KinesisEnumeratorStateSerializer serializer = new KinesisEnumeratorStateSerializer();
        return serializer.deserialize(serializer.getVersion(), serializer.serialize(state));
    }

    private static ShardsFinishedEvent fullyRead(String... shardIds) {
        return new ShardsFinishedEvent(Set.of(shardIds), Set.of());
    }

    @Test
    void latestIsFixedToTheStartTimeAndNotResolvedAgainAfterARestore() throws Exception {
        FakeEnumeratorContext context = new FakeEnumeratorContext(1);
        proxy.shards = List.of(shard(S0, 0, 2), shard(S1, 1, 2));
        KinesisShardEnumerator first =
                enumerator(context, StartingPosition.latest(), KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        // No reader yet: both splits wait in the checkpoint with the fixed position.
        KinesisEnumeratorState state = roundTrip(first.snapshotState(1L));
        assertEquals(2, state.getUnassignedSplits().size());
        for (KinesisShardSplit split : state.getUnassignedSplits()) {
            assertEquals(StartingPosition.atTimestamp(START), split.getStartingPosition());
        }

        FakeEnumeratorContext restoredContext = contextWithReaders(1);
        KinesisShardEnumerator restored =
                new KinesisShardEnumerator(
                        restoredContext,
                        proxy,
                        StartingPosition.latest(),
                        10_000L,
                        state,
                        Clock.fixed(START.plusSeconds(3_600), ZoneOffset.UTC));
        restored.start();
        proxy.shards = List.of(shard(S0, 0, 2), shard(S1, 1, 2), shard(S2, 0, 1));
        restoredContext.runPeriodicCall();
        assertEquals(
                StartingPosition.atTimestamp(START),
                restoredContext.assignedSplit(S0).getStartingPosition());
        assertEquals(
                StartingPosition.atTimestamp(START),
                restoredContext.assignedSplit(S1).getStartingPosition());
        // A shard that appears after the first discovery is read from its beginning.
        assertEquals(
                StartingPosition.trimHorizon(),
                restoredContext.assignedSplit(S2).getStartingPosition());
    }

    @Test
    void splitsTakenBackKeepTheirFixedPosition() {
        FakeEnumeratorContext context = contextWithReaders(1);
        proxy.shards = List.of(shard(S0, 0, 1));
        KinesisShardEnumerator enumerator =
                enumerator(context, StartingPosition.latest(), KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        KinesisShardSplit split = context.assignedSplit(S0);
        context.assigned.clear();

        context.unregisterReader(0);
        enumerator.addSplitsBack(List.of(split), 0);
        context.registerReader(0);
        enumerator.addReader(0);

        assertEquals(List.of(S0), context.shardIdsOf(0));
        assertEquals(
                StartingPosition.atTimestamp(START),
                context.assignedSplit(S0).getStartingPosition());
    }

    @Test
    void childrenOfASplitWaitUntilTheParentIsFullyRead() {
        FakeEnumeratorContext context = contextWithReaders(2);
        proxy.shards = List.of(shard(S0, 0, 1), shard(S1, 0, 2, S0), shard(S2, 1, 2, S0));
        KinesisShardEnumerator enumerator =
                enumerator(context, StartingPosition.trimHorizon(), KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        assertEquals(List.of(S0), context.shardIdsOf(0));
        assertEquals(List.of(), context.shardIdsOf(1));
        context.runPeriodicCall();
        assertEquals(1, context.assigned.values().stream().mapToInt(List::size).sum());

        enumerator.handleSourceEvent(0, fullyRead(S0));

        assertEquals(List.of(S0, S1), context.shardIdsOf(0));
        assertEquals(List.of(S2), context.shardIdsOf(1));
        assertEquals(Set.of(S0), enumerator.snapshotState(2L).getFinishedShardIds());
    }

    @Test
    void aMergedChildWaitsForBothParents() {
        FakeEnumeratorContext context = contextWithReaders(2);
        proxy.shards = List.of(shard(S0, 0, 2), shard(S1, 1, 2));
        KinesisShardEnumerator enumerator =
                enumerator(context, StartingPosition.trimHorizon(), KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        proxy.shards = List.of(shard(S0, 0, 2), shard(S1, 1, 2), shard(S2, 0, 1, S0, S1));
        context.runPeriodicCall();

        enumerator.handleSourceEvent(0, fullyRead(S0));
        assertEquals(null, context.assignedSplit(S2));
        enumerator.handleSourceEvent(1, fullyRead(S1));
        KinesisShardSplit child = context.assignedSplit(S2);
        assertEquals(StartingPosition.trimHorizon(), child.getStartingPosition());
        assertEquals(Set.of(S0, S1), child.getParentShardIds());
    }

    private static ShardsDrainedEvent drained(String shardId, String... children) {
        return new ShardsDrainedEvent(Map.of(shardId, Set.of(children)));
    }

    private static ChildShardsAssignedEvent childOwners(
            String parent, Map<String, Integer> children) {
        return new ChildShardsAssignedEvent(Map.of(parent, children));
    }

    @Test
    void childrenOfADrainedParentGoToItsReaderWhichIsThenTold() {
        FakeEnumeratorContext context = contextWithReaders(2);
        proxy.shards = List.of(shard(S0, 0, 2), shard(S1, 1, 2));
        KinesisShardEnumerator enumerator =
                enumerator(context, StartingPosition.trimHorizon(), KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        assertEquals(List.of(S0), context.shardIdsOf(0));

        // Drained before discovery lists the children: held until they are assigned.
        enumerator.handleSourceEvent(0, drained(S0, S2, S3));
        assertEquals(Map.of(), context.sentEvents);
        // S3's hash key range prefers reader 1, but the parent's reader takes both children.
        proxy.shards =
                List.of(shard(S0, 0, 2), shard(S1, 1, 2), shard(S2, 0, 4, S0), shard(S3, 3, 4, S0));
        context.runPeriodicCall();

        assertEquals(List.of(S0, S2, S3), context.shardIdsOf(0));
        assertEquals(List.of(S1), context.shardIdsOf(1));
        assertEquals(
                Map.of(0, List.of(childOwners(S0, Map.of(S2, 0, S3, 0)))), context.sentEvents);
        // The parent stays assigned until its reader reports it finished.
        assertEquals(
                Map.of(S0, 0, S1, 1, S2, 0, S3, 0),
                enumerator.snapshotState(1L).getAssignedShardOwners());
        enumerator.handleSourceEvent(0, fullyRead(S0));
        assertEquals(
                Map.of(S1, 1, S2, 0, S3, 0),
                enumerator.snapshotState(2L).getAssignedShardOwners());
    }

    @Test
    void aMergedChildGoesToTheLeastLoadedReaderOfItsParentsAndBothAreTold() {
        FakeEnumeratorContext context = contextWithReaders(2);
        proxy.shards = List.of(shard(S0, 0, 4), shard(S1, 1, 4), shard(S2, 1, 2));
        KinesisShardEnumerator enumerator =
                enumerator(context, StartingPosition.trimHorizon(), KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        assertEquals(List.of(S0, S1), context.shardIdsOf(0));
        assertEquals(List.of(S2), context.shardIdsOf(1));
        proxy.shards =
                List.of(shard(S0, 0, 4), shard(S1, 1, 4), shard(S2, 1, 2), shard(S3, 1, 2, S1, S2));
        context.runPeriodicCall();

        enumerator.handleSourceEvent(0, drained(S1, S3));
        assertEquals(null, context.assignedSplit(S3));
        assertEquals(Map.of(), context.sentEvents);
        enumerator.handleSourceEvent(1, drained(S2, S3));

        // Reader 0 still reads S0, reader 1 nothing else: the child goes to reader 1.
        assertEquals(List.of(S2, S3), context.shardIdsOf(1));
        assertEquals(
                Map.of(
                        0, List.of(childOwners(S1, Map.of(S3, 1))),
                        1, List.of(childOwners(S2, Map.of(S3, 1)))),
                context.sentEvents);
    }

    @Test
    void aParentDrainedAgainAfterARestoreIsAnsweredAgain() throws Exception {
        FakeEnumeratorContext context = contextWithReaders(2);
        proxy.shards =
                List.of(shard(S0, 0, 2), shard(S1, 1, 2), shard(S2, 0, 4, S0), shard(S3, 1, 4, S0));
        KinesisShardEnumerator enumerator =
                enumerator(context, StartingPosition.trimHorizon(), KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        enumerator.handleSourceEvent(0, drained(S0, S2, S3));
        KinesisEnumeratorState state = roundTrip(enumerator.snapshotState(3L));
        assertEquals(Map.of(S0, 0, S1, 1, S2, 0, S3, 0), state.getAssignedShardOwners());

        FakeEnumeratorContext restoredContext = contextWithReaders(2);
        KinesisShardEnumerator restored =
                enumerator(restoredContext, StartingPosition.trimHorizon(), state);
        restoredContext.runPeriodicCall();
        assertEquals(Map.of(), restoredContext.assigned);
        restored.handleSourceEvent(0, drained(S0, S2, S3));

        assertEquals(Map.of(), restoredContext.assigned);
        assertEquals(
                Map.of(0, List.of(childOwners(S0, Map.of(S2, 0, S3, 0)))),
                restoredContext.sentEvents);
    }

    @Test
    void aChildWhoseParentIsNotListedIsAssignedAtOnce() {
        FakeEnumeratorContext context = contextWithReaders(1);
        // S0 expired beyond the retention period: ListShards no longer reports it.
        proxy.shards = List.of(shard(S1, 0, 2, S0), shard(S2, 1, 2, S0));
        enumerator(context, StartingPosition.trimHorizon(), KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        assertEquals(List.of(S1, S2), context.shardIdsOf(0));
    }

    @Test
    void aParentFromAnOldStateDoesNotHoldBackItsChildren() {
        FakeEnumeratorContext context = contextWithReaders(1);
        KinesisEnumeratorState legacy =
                new KinesisEnumeratorState(
                        true,
                        Map.of(S0, KinesisEnumeratorState.UNKNOWN_OWNER),
                        List.of(),
                        Set.of(),
                        Set.of());
        proxy.shards = List.of(shard(S0, 0, 1), shard(S1, 0, 2, S0));
        enumerator(context, StartingPosition.trimHorizon(), legacy);
        context.runPeriodicCall();
        assertEquals(List.of(S1), context.shardIdsOf(0));
    }

    @Test
    void finishedShardsAreInTheStateAndNotReadAgain() throws Exception {
        FakeEnumeratorContext context = contextWithReaders(1);
        proxy.shards = List.of(shard(S0, 0, 1), shard(S1, 0, 1, S0));
        KinesisShardEnumerator enumerator =
                enumerator(context, StartingPosition.trimHorizon(), KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        enumerator.handleSourceEvent(0, fullyRead(S0));
        KinesisEnumeratorState state = roundTrip(enumerator.snapshotState(3L));
        assertEquals(Set.of(S0), state.getFinishedShardIds());
        assertEquals(Map.of(S1, 0), state.getAssignedShardOwners());

        FakeEnumeratorContext restoredContext = contextWithReaders(1);
        KinesisShardEnumerator restored =
                enumerator(restoredContext, StartingPosition.trimHorizon(), state);
        restoredContext.runPeriodicCall();
        assertEquals(List.of(), restoredContext.shardIdsOf(0));
        assertEquals(state, restored.snapshotState(4L));

        // Once S0 is beyond the retention period, it is forgotten.
        proxy.shards = List.of(shard(S1, 0, 1, S0));
        restoredContext.runPeriodicCall();
        assertEquals(Set.of(), restored.snapshotState(5L).getFinishedShardIds());
    }

    @Test
    void aDeletedStreamDoesNotFailTheJobAndItsShardsAreReadAgainWhenRecreated() {
        FakeEnumeratorContext context = contextWithReaders(1);
        proxy.shards = List.of(shard(S0, 0, 1), shard(S1, 0, 2, S0), shard(S2, 1, 2, S0));
        KinesisShardEnumerator enumerator =
                enumerator(context, StartingPosition.trimHorizon(), KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        enumerator.handleSourceEvent(0, fullyRead(S0));
        context.assigned.clear();

        proxy.listShardsError = FakeKinesisProxy.notFound();
        for (int i = 0; i < 20; i++) {
            context.runPeriodicCall();
        }
        enumerator.handleSourceEvent(0, new ShardsFinishedEvent(Set.of(), Set.of(S1, S2)));
        KinesisEnumeratorState whileMissing = enumerator.snapshotState(5L);
        assertEquals(Set.of(), whileMissing.getFinishedShardIds());
        assertEquals(Set.of(S0, S1, S2), whileMissing.getVanishedShardIds());
        assertEquals(Map.of(), whileMissing.getAssignedShardOwners());

        // Recreated with one shard whose id the old stream's first shard had.
        proxy.listShardsError = null;
        proxy.shards = List.of(shard(S0, 0, 1));
        context.runPeriodicCall();
        assertEquals(List.of(S0), context.shardIdsOf(0));
        assertEquals(
                StartingPosition.trimHorizon(), context.assignedSplit(S0).getStartingPosition());
        assertEquals(Set.of(), enumerator.snapshotState(6L).getVanishedShardIds());
    }

    @Test
    void aVanishedShardListedAgainIsReadFromTrimHorizon() {
        FakeEnumeratorContext context = contextWithReaders(1);
        proxy.shards = List.of(shard(S0, 0, 1));
        KinesisShardEnumerator enumerator =
                enumerator(
                        context,
                        StartingPosition.atTimestamp(START.minusSeconds(60)),
                        KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        enumerator.handleSourceEvent(0, new ShardsFinishedEvent(Set.of(), Set.of(S0)));
        assertEquals(Set.of(S0), enumerator.snapshotState(1L).getVanishedShardIds());
        context.assigned.clear();

        context.runPeriodicCall();

        assertEquals(List.of(S0), context.shardIdsOf(0));
        assertEquals(
                StartingPosition.trimHorizon(), context.assignedSplit(S0).getStartingPosition());
    }

    @Test
    void throttledDiscoveryIsRetriedForEverButOtherErrorsOnlyNineTimes() {
        FakeEnumeratorContext context = contextWithReaders(1);
        enumerator(context, StartingPosition.trimHorizon(), KinesisEnumeratorState.empty());
        proxy.listShardsError = FakeKinesisProxy.limitExceeded();
        for (int i = 0; i < 30; i++) {
            context.runPeriodicCall();
        }
        proxy.listShardsError = FakeKinesisProxy.serverError();
        for (int i = 0; i < 9; i++) {
            context.runPeriodicCall();
        }
        assertThrows(AwsConnectorException.class, context::runPeriodicCall);
    }

    @Test
    void nothingIsAssignedBeforeAllReadersAreRegistered() {
        FakeEnumeratorContext context = new FakeEnumeratorContext(2);
        context.registerReader(1);
        proxy.shards = List.of(shard(S0, 0, 2), shard(S1, 1, 2));
        KinesisShardEnumerator enumerator =
                enumerator(context, StartingPosition.trimHorizon(), KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        assertTrue(context.assigned.isEmpty());

        context.registerReader(0);
        enumerator.addReader(0);
        assertEquals(List.of(S0), context.shardIdsOf(0));
        assertEquals(List.of(S1), context.shardIdsOf(1));
    }

    @Test
    void shardsStayBalancedAcrossSplitsAndMerges() {
        FakeEnumeratorContext context = contextWithReaders(2);
        proxy.shards = List.of(shard(S0, 0, 4), shard(S1, 1, 4), shard(S2, 2, 4), shard(S3, 3, 4));
        KinesisShardEnumerator enumerator =
                enumerator(context, StartingPosition.trimHorizon(), KinesisEnumeratorState.empty());
        context.runPeriodicCall();
        // Fresh stream: by hash key range, the lower half to reader 0.
        assertEquals(List.of(S0, S1), context.shardIdsOf(0));
        assertEquals(List.of(S2, S3), context.shardIdsOf(1));

        // S2 and S3 (both on reader 1) merge into S4; S0 (reader 0) splits into S5 and S6.
        String s6 = "shardId-000000000006";
        proxy.shards =
                List.of(
                        shard(S0, 0, 4),
                        shard(S1, 1, 4),
                        shard(S2, 2, 4),
                        shard(S3, 3, 4),
                        shard(S4, 1, 2, S2, S3),
                        shard(S5, 0, 8, S0),
                        shard(s6, 1, 8, S0));
        context.runPeriodicCall();
        enumerator.handleSourceEvent(1, fullyRead(S2, S3));
        enumerator.handleSourceEvent(0, fullyRead(S0));

        // Open shards now: S1 on reader 0, S4 on reader 1 (assigned first), then S5 and S6
        // spread one each.
        assertEquals(List.of(S0, S1, S5), context.shardIdsOf(0));
        assertEquals(List.of(S2, S3, S4, s6), context.shardIdsOf(1));
        Map<String, Integer> owners = enumerator.snapshotState(7L).getAssignedShardOwners();
        assertEquals(Map.of(S1, 0, S5, 0, S4, 1, s6, 1), owners);
    }

    @Test
    void assignerPrefersTheKeyRangeReaderAmongTheLeastLoaded() {
        KinesisShardSplit upperQuarter =
                new KinesisShardSplit(
                        S3,
                        StartingPosition.trimHorizon(),
                        Collections.emptySet(),
                        FakeKinesisProxy.shard(S3, 3, 4).hashKeyRange().startingHashKey(),
                        FakeKinesisProxy.shard(S3, 3, 4).hashKeyRange().endingHashKey(),
                        KinesisShardSplit.Status.UNFINISHED);
        List<Integer> readers = Arrays.asList(0, 1, 2, 3);
        assertEquals(3, ShardAssigner.select(upperQuarter, readers, Map.of(), 1));
        assertEquals(3, ShardAssigner.select(upperQuarter, readers, Map.of(3, 1), 2));
        assertEquals(0, ShardAssigner.select(upperQuarter, readers, Map.of(3, 1), 1));
        assertEquals(2, ShardAssigner.select(upperQuarter, readers, Map.of(0, 1, 1, 1, 3, 1), 1));
        assertEquals(1, ShardAssigner.fairShare(4, 4));
        assertEquals(2, ShardAssigner.fairShare(5, 4));
    }
}
