#pragma once

#include "parseclient.h"

#include <membatch/batchoptions.h>
#include <membatch/job.h>

#include <QJsonArray>
#include <QList>

namespace membatch {

// `membatch migrate`: see IBatchProcessor::migrate. Reads the schema that
// is wanted (resources/parse-schema.json, built in) and the one Parse has
// (one GET /schemas), plans every step, refuses if anything would have to
// change or drop what exists (a field of another type, an index of the same
// name over other keys), then creates the missing classes and adds the
// missing fields, permissions and indexes, one step at a time.
class MigrateJob : public Job
{
    Q_OBJECT
public:
    MigrateJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const MigrateOptions &options,
               QObject *parent = nullptr);

    // A step of the plan, for the tests.
    struct Step
    {
        QByteArray verb; // POST: create the class; PUT: add to it
        QString className;
        QJsonObject body;
        QString what;    // "create class X (12 fields, 2 indexes)"
    };
    // The plan from the wanted and the existing schema (GET /schemas
    // results); problems say what cannot be done without a person.
    static QList<Step> plan(const QJsonArray &wanted, const QJsonArray &existing, QStringList *problems);

protected:
    void doStart() override;
    bool doKill() override;

private:
    void planned(const ApiResult &r);
    void nextStep();

    ConnectionSettings m_settings;
    MigrateOptions m_options;
    ParseClient m_parse;
    QJsonArray m_wanted;
    QList<Step> m_steps;
    int m_done = 0;
};

} // namespace membatch
