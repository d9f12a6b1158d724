using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Export;

/// <summary>What the selection pass learned about a kept sample's query: the ladder's pass rates, the CV, the level.</summary>
public readonly record struct Annotation(long Ordinal, float? PassRateStrong, float? PassRateMiddle, float? PassRateWeak, float? Cv, DifficultyLevel Difficulty)
{
    public void Write(BinaryWriter w)
    {
        w.Write(Ordinal);
        w.Write(PassRateStrong ?? float.NaN);
        w.Write(PassRateMiddle ?? float.NaN);
        w.Write(PassRateWeak ?? float.NaN);
        w.Write(Cv ?? float.NaN);
        w.Write((byte)Difficulty);
    }

    public static Annotation Read(BinaryReader r) =>
        new(r.ReadInt64(), Nullable(r.ReadSingle()), Nullable(r.ReadSingle()), Nullable(r.ReadSingle()), Nullable(r.ReadSingle()), (DifficultyLevel)r.ReadByte());

    private static float? Nullable(float value) => float.IsNaN(value) ? null : value;
}

/// <summary>The small part of a sample the selection needs, written to its query's partition.</summary>
internal readonly record struct Projection(long Ordinal, string QueryId, string Teacher, string SampleId, double Score, bool Scored, QueryCategory Category, FilterReason Filtered)
{
    public void Write(BinaryWriter w)
    {
        w.Write(Ordinal);
        w.Write(QueryId);
        w.Write(Teacher);
        w.Write(SampleId);
        w.Write(Score);
        w.Write(Scored);
        w.Write((byte)Category);
        w.Write((byte)Filtered);
    }

    public static Projection Read(BinaryReader r) =>
        new(r.ReadInt64(), r.ReadString(), r.ReadString(), r.ReadString(), r.ReadDouble(), r.ReadBoolean(), (QueryCategory)r.ReadByte(), (FilterReason)r.ReadByte());
}

/// <summary>Why the quality filters removed a response before selection.</summary>
public enum FilterReason : byte { None, Length, Repetition }
