#include "migratejob.h"

#include <QFile>
#include <QHash>
#include <QJsonDocument>

namespace membatch {

namespace {

constexpr char kBuiltInSchema[] = ":/membatch/parse-schema.json";

QString typeName(const QJsonObject &field)
{
    const QString target = field.value(QStringLiteral("targetClass")).toString();
    return field.value(QStringLiteral("type")).toString() + (target.isEmpty() ? QString() : QStringLiteral("<%1>").arg(target));
}

QString keysOf(const QJsonObject &o)
{
    return o.keys().join(QStringLiteral(", "));
}

} // namespace

MigrateJob::MigrateJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const MigrateOptions &options,
                       QObject *parent)
    : Job(parent)
    , m_settings(settings)
    , m_options(options)
    , m_parse(nam, settings, ParseClient::Auth::Master)
{
}

QList<MigrateJob::Step> MigrateJob::plan(const QJsonArray &wanted, const QJsonArray &existing, QStringList *problems)
{
    QHash<QString, QJsonObject> have;
    for (const QJsonValue &c : existing)
        have.insert(c.toObject().value(QStringLiteral("className")).toString(), c.toObject());

    QList<Step> steps;
    for (const QJsonValue &value : wanted) {
        const QJsonObject want = value.toObject();
        const QString name = want.value(QStringLiteral("className")).toString();
        const QJsonObject fields = want.value(QStringLiteral("fields")).toObject();
        const QJsonObject indexes = want.value(QStringLiteral("indexes")).toObject();
        const QJsonObject clp = want.value(QStringLiteral("classLevelPermissions")).toObject();
        const auto found = have.constFind(name);
        if (found == have.cend()) {
            QJsonObject body{{QStringLiteral("className"), name}, {QStringLiteral("fields"), fields}};
            if (!indexes.isEmpty())
                body.insert(QStringLiteral("indexes"), indexes);
            if (!clp.isEmpty())
                body.insert(QStringLiteral("classLevelPermissions"), clp);
            steps.append({"POST", name, body, QStringLiteral("create class %1 (%2 fields, %3 indexes)").arg(name).arg(fields.size()).arg(indexes.size())});
            continue;
        }
        const QJsonObject haveFields = found->value(QStringLiteral("fields")).toObject();
        const QJsonObject haveIndexes = found->value(QStringLiteral("indexes")).toObject();
        QJsonObject addFields;
        for (auto it = fields.begin(); it != fields.end(); ++it) {
            const QJsonObject spec = it.value().toObject();
            if (!haveFields.contains(it.key())) {
                addFields.insert(it.key(), spec);
                continue;
            }
            const QJsonObject cur = haveFields.value(it.key()).toObject();
            if (typeName(cur) != typeName(spec))
                *problems << QStringLiteral("%1.%2 is %3 in Parse but %4 in the schema").arg(name, it.key(), typeName(cur), typeName(spec));
        }
        QJsonObject addIndexes;
        for (auto it = indexes.begin(); it != indexes.end(); ++it) {
            if (!haveIndexes.contains(it.key()))
                addIndexes.insert(it.key(), it.value());
            else if (haveIndexes.value(it.key()).toObject() != it.value().toObject()) // keys in any order
                *problems << QStringLiteral("%1 index %2 is %3 in Parse but %4 in the schema")
                                 .arg(name, it.key(), QString::fromUtf8(QJsonDocument(haveIndexes.value(it.key()).toObject()).toJson(QJsonDocument::Compact)),
                                      QString::fromUtf8(QJsonDocument(it.value().toObject()).toJson(QJsonDocument::Compact)));
        }
        QJsonObject update{{QStringLiteral("className"), name}};
        QStringList what;
        if (!addFields.isEmpty()) {
            update.insert(QStringLiteral("fields"), addFields);
            what << QStringLiteral("add fields %1").arg(keysOf(addFields));
        }
        if (!clp.isEmpty() && found->value(QStringLiteral("classLevelPermissions")).toObject() != clp) {
            update.insert(QStringLiteral("classLevelPermissions"), clp);
            what << QStringLiteral("set the class-level permissions");
        }
        if (!what.isEmpty())
            steps.append({"PUT", name, update, QStringLiteral("%1: %2").arg(name, what.join(QStringLiteral(", ")))});
        // Indexes after the fields they cover.
        if (!addIndexes.isEmpty())
            steps.append({"PUT", name, {{QStringLiteral("className"), name}, {QStringLiteral("indexes"), addIndexes}},
                          QStringLiteral("%1: add indexes %2").arg(name, keysOf(addIndexes))});
    }
    return steps;
}

void MigrateJob::doStart()
{
    if (const QStringList missing = m_settings.missingForOperator(); !missing.isEmpty()) {
        setError(ConfigurationError, tr("migrate needs Parse's url, application id and master key: set %1")
                                         .arg(missing.join(QStringLiteral(", "))));
        emitResult();
        return;
    }
    const QString path = m_options.schemaPath.isEmpty() ? QLatin1String(kBuiltInSchema) : m_options.schemaPath;
    QFile file(path);
    QJsonParseError parseError;
    const QJsonDocument doc = file.open(QIODevice::ReadOnly) ? QJsonDocument::fromJson(file.readAll(), &parseError) : QJsonDocument();
    m_wanted = doc.object().value(QStringLiteral("classes")).toArray();
    if (m_wanted.isEmpty()) {
        setError(InvalidInputError, file.isOpen() ? tr("%1: not a schema ({\"classes\": [...]})%2").arg(path, parseError.error ? QStringLiteral(": ") + parseError.errorString() : QString())
                                                  : tr("%1: cannot read: %2").arg(path, file.errorString()));
        emitResult();
        return;
    }
    m_parse.schemas(this, [this](const ApiResult &r) { planned(r); });
}

bool MigrateJob::doKill()
{
    RestClient::abortAll(this);
    return true;
}

void MigrateJob::planned(const ApiResult &r)
{
    if (!r.ok()) {
        setError(r.error, tr("reading Parse's schema: %1").arg(r.message));
        emitResult();
        return;
    }
    QStringList problems;
    m_steps = plan(m_wanted, r.json.value(QStringLiteral("results")).toArray(), &problems);
    if (!problems.isEmpty()) {
        setError(InvalidInputError, tr("Parse's schema does not match membatch's; nothing was changed:\n  %1").arg(problems.join(QStringLiteral("\n  "))));
        emitResult();
        return;
    }
    if (m_steps.isEmpty()) {
        emitInfo(tr("the schema is up to date (%1 classes): nothing to change").arg(m_wanted.size()));
        emitResult();
        return;
    }
    if (m_options.dryRun) {
        for (const Step &step : std::as_const(m_steps))
            emitInfo(tr("would %1").arg(step.what));
        emitInfo(tr("dry run: %1 changes, none made").arg(m_steps.size()));
        emitResult();
        return;
    }
    nextStep();
}

void MigrateJob::nextStep()
{
    if (m_done == m_steps.size()) {
        emitInfo(tr("%1 changes made").arg(m_done));
        emitResult();
        return;
    }
    const Step &next = m_steps.at(m_done);
    m_parse.changeSchema(next.verb, next.className, next.body, this, [this](const ApiResult &r) {
        const Step &step = m_steps.at(m_done);
        if (!r.ok()) {
            setError(r.error, tr("%1: %2 (%3 of %4 changes made before)").arg(step.what, r.message).arg(m_done).arg(m_steps.size()));
            emitResult();
            return;
        }
        ++m_done;
        emitInfo(step.what);
        nextStep();
    });
}

} // namespace membatch
