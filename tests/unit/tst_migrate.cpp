// MigrateJob's plan: what it adds, and what it refuses to touch.
#include "migratejob.h"

#include <QJsonDocument>
#include <QTest>

using namespace membatch;

namespace {

QJsonArray classes(const char *json)
{
    return QJsonDocument::fromJson(json).array();
}

QStringList whats(const QList<MigrateJob::Step> &steps)
{
    QStringList out;
    for (const MigrateJob::Step &s : steps)
        out << QString::fromLatin1(s.verb) + QLatin1Char(' ') + s.what;
    return out;
}

const char *const kWanted = R"([{"className":"A","fields":{"x":{"type":"String"},"p":{"type":"Pointer","targetClass":"B"}},
   "indexes":{"x_p":{"x":1,"p":1}},"classLevelPermissions":{"create":{}}},
  {"className":"B","fields":{"n":{"type":"Number"}}}])";

} // namespace

class tst_Migrate : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void createsWhatIsMissing()
    {
        QStringList problems;
        const auto steps = MigrateJob::plan(classes(kWanted), {}, &problems);
        QVERIFY(problems.isEmpty());
        QCOMPARE(whats(steps), (QStringList{QStringLiteral("POST create class A (2 fields, 1 indexes)"), QStringLiteral("POST create class B (1 fields, 0 indexes)")}));
        QCOMPARE(steps.first().body.value(QStringLiteral("classLevelPermissions")).toObject(), QJsonObject({{QStringLiteral("create"), QJsonObject()}}));
    }

    void addsFieldsPermissionsAndIndexesToAClass()
    {
        QStringList problems;
        const auto steps = MigrateJob::plan(classes(kWanted),
                                            classes(R"([{"className":"A","fields":{"objectId":{"type":"String"},"x":{"type":"String"}},
                                                         "indexes":{"_id_":{"_id":1}},"classLevelPermissions":{"create":{"*":true}}},
                                                        {"className":"B","fields":{"n":{"type":"Number"}}}])"),
                                            &problems);
        QVERIFY(problems.isEmpty());
        QCOMPARE(whats(steps), (QStringList{QStringLiteral("PUT A: add fields p, set the class-level permissions"), QStringLiteral("PUT A: add indexes x_p")}));
        QCOMPARE(steps.first().body.value(QStringLiteral("fields")).toObject().keys(), QStringList{QStringLiteral("p")});
    }

    void nothingWhenAllIsThere()
    {
        QStringList problems;
        // Postgres keeps an index's keys in jsonb order: the same index.
        const auto steps = MigrateJob::plan(classes(kWanted),
                                            classes(R"([{"className":"A","fields":{"x":{"type":"String"},"p":{"type":"Pointer","targetClass":"B"},"extra":{"type":"Date"}},
                                                         "indexes":{"x_p":{"p":1,"x":1}},"classLevelPermissions":{"create":{}}},
                                                        {"className":"B","fields":{"n":{"type":"Number"}}}])"),
                                            &problems);
        QVERIFY(problems.isEmpty());
        QVERIFY(steps.isEmpty());
    }

    void refusesToChangeWhatExists()
    {
        QStringList problems;
        MigrateJob::plan(classes(kWanted),
                         classes(R"([{"className":"A","fields":{"x":{"type":"Number"},"p":{"type":"Pointer","targetClass":"C"}},
                                      "indexes":{"x_p":{"x":1}}}])"),
                         &problems);
        QCOMPARE(problems, (QStringList{QStringLiteral("A.p is Pointer<C> in Parse but Pointer<B> in the schema"),
                                        QStringLiteral("A.x is Number in Parse but String in the schema"),
                                        QStringLiteral("A index x_p is {\"x\":1} in Parse but {\"p\":1,\"x\":1} in the schema")}));
    }
};

QTEST_GUILESS_MAIN(tst_Migrate)
#include "tst_migrate.moc"
